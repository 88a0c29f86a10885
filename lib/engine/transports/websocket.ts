/**
 * WebSocket transport, on top of a `ws` WebSocket accepted by the server.
 *
 * Each packet is one WebSocket message: text frames for string packets,
 * binary frames for binary data.
 */
import { WebSocket as WsSocket } from "ws";
import type { RawData as WsRawData } from "ws";
import debugModule from "debug";
import { codedError } from "../../errors";
import { Transport, EngineRequest } from "../transport";
import type { Packet } from "../codec/packet";
import { wsTextFrame, wsPayloadLength } from "../ws-frame";
import { listenerTables } from "../listener-table";
import type { WsPreEncodedFrame } from "../ws-frame";

const debug = debugModule("engine:ws");

// the listener tables of the ws sockets (see listener-table.ts)
const compactTable = listenerTables();

/** Options of the `perMessageDeflate` server option. */
export interface PerMessageDeflateOptions {
  /** messages smaller than this many bytes are sent uncompressed */
  threshold?: number;
  [key: string]: unknown;
}

/** The private part of a ws socket used to send pre-built frames as they are. */
interface FrameSender {
  sendFrame(frame: WsPreEncodedFrame, cb?: (err?: Error) => void): void;
}

/** The private part of a ws socket holding the TCP (or TLS) stream it writes to. */
interface CorkableStream {
  cork(): void;
  uncork(): void;
}

// The frames of the one-character packets (ping "2", pong "3", noop "6"...), the same
// bytes for every session: built once, shared by all (a heartbeat costs no allocation).
const shortFrames: (WsPreEncodedFrame | undefined)[] = [];

function shortFrame(encoded: string): WsPreEncodedFrame {
  const code = encoded.charCodeAt(0);
  let frame = shortFrames[code];
  if (frame === undefined) {
    frame = wsTextFrame(encoded);
    shortFrames[code] = frame;
  }
  return frame;
}

// The transport of a ws socket, found by the listeners shared by all sockets (ws calls
// them with the socket as `this`): one property instead of a closure per listener.
const kTransport = Symbol("engine:transport");

interface TransportLink {
  [kTransport]?: WebSocket;
}

function transportOf(socket: WsSocket): WebSocket {
  return (socket as TransportLink)[kTransport] as WebSocket;
}

function onSocketMessage(this: WsSocket, data: WsRawData, isBinary: boolean): void {
  transportOf(this)._onSocketMessage(data, isBinary);
}

function onSocketError(this: WsSocket, err: Error): void {
  transportOf(this)._onSocketError(err);
}

function onSocketClose(this: WsSocket): void {
  transportOf(this)._onSocketClose();
}

export class WebSocket extends Transport {
  /** a WebSocket session is never upgraded further */
  static upgradesTo: string[] = [];

  perMessageDeflate: PerMessageDeflateOptions | false | null = null;
  readonly socket: WsSocket;

  // ws calls it once the last packet of a flush is written (a write that fails fails every
  // later one of the stream too, so the last reports any failure). Bound once per transport:
  // a bound function takes 48 bytes, an arrow function and the context it closes over 96.
  private readonly onSentLast: (err?: Error) => void;

  constructor(req: EngineRequest) {
    super(req);
    const socket = req.websocket as WsSocket;
    this.socket = socket;
    this.onSentLast = this.sentLast.bind(this);
    compactTable(socket);
    (socket as TransportLink)[kTransport] = this;
    // The error listener stays for the socket's life (ws emits an error for a bad frame
    // even after a close), and is the only one: the server's, that covers a socket no
    // transport takes, is not added for this one. ws emits "close" once: on(), no
    // once() wrapper. The listeners are shared by all sockets.
    socket.on("error", onSocketError);
    socket.on("message", onSocketMessage);
    socket.on("close", onSocketClose);
    this.writable = true;
  }

  private sentLast(err?: Error): void {
    if (err) {
      this.onError(codedError("EIO_ERR_WRITE"), err.stack);
      return;
    }
    this.onDrain();
    this.writable = true;
    this.onReady();
  }

  /** @internal */
  _onSocketMessage(data: WsRawData, isBinary: boolean): void {
    this.countReceived((data as Buffer).length);
    const message = isBinary ? (data as Buffer) : data.toString();
    if (debug.enabled) {
      debug('received "%s"', message);
    }
    this.onData(message);
  }

  /** @internal */
  _onSocketError(err: Error): void {
    // as engine.io: the message is the error's string ("RangeError: Max payload size
    // exceeded"), with no description
    this.onError(codedError("EIO_ERR_WEBSOCKET", String(err)));
  }

  /** @internal */
  _onSocketClose(): void {
    this.onClose();
  }

  get name(): string {
    return "websocket";
  }

  override get handlesUpgrades(): boolean {
    return true;
  }

  override get bufferedAmount(): number {
    // ws counts what its sender queues plus what the TCP (or TLS) stream has not flushed
    const amount = this.socket.bufferedAmount;
    return typeof amount === "number" ? amount : 0;
  }

  /** Destroys the TCP stream: what the client did not read is released now, not after a close handshake. */
  override abort(): void {
    if (this.readyState === "closed") {
      return;
    }
    this.discard();
    this.readyState = "closing";
    this.writable = false;
    this.socket.terminate();
  }

  override send(packets: Packet[]): void {
    this.writable = false;
    // Several packets leave in one writev (one syscall) instead of one write each: the
    // socket flushes everything buffered while the previous write was in flight at once.
    const stream = packets.length > 1 ? this.rawStream() : null;
    if (stream) {
      stream.cork();
    }
    try {
      this.writePackets(packets);
    } finally {
      if (stream) {
        stream.uncork();
      }
    }
  }

  private writePackets(packets: Packet[]): void {
    // nothing the loop does changes whether frames may go as they are: decided once per flush
    const sender = this.frameSender();
    const last = packets.length - 1;
    // the bytes of the messages, counted once per flush
    let bytes = 0;
    for (let i = 0; i <= last; i++) {
      const packet = packets[i];
      const callback = i === last ? this.onSentLast : undefined;
      const options = packet.options;
      if (sender !== null && options !== undefined && options.wsPreEncodedFrame !== undefined) {
        bytes += wsPayloadLength(options.wsPreEncodedFrame);
        sender.sendFrame(options.wsPreEncodedFrame, callback);
        continue;
      }
      const encoded = this.codec.encodePacket(packet, this.supportsBinary);
      if (sender !== null && typeof encoded === "string") {
        if (debug.enabled) {
          debug('writing "%s"', encoded);
        }
        // one buffer per text frame (header and payload), one stream write
        const frame = encoded.length === 1 ? shortFrame(encoded) : wsTextFrame(encoded);
        bytes += wsPayloadLength(frame);
        sender.sendFrame(frame, callback);
        continue;
      }
      const length = typeof encoded === "string" ? Buffer.byteLength(encoded) : encoded.length;
      bytes += length;
      this.sendData(encoded, length, options === undefined || options.compress !== false, callback);
    }
    // a socket that is closing refuses every send: nothing left
    if (this.socket.readyState === WsSocket.OPEN) {
      this.countSent(packets.length, bytes);
    }
  }

  private sendData(
    data: string | Buffer,
    length: number,
    compress: boolean,
    callback: ((err?: Error) => void) | undefined,
  ): void {
    const deflate = this.perMessageDeflate;
    if (compress && deflate) {
      compress = length >= (deflate.threshold === undefined ? 1024 : deflate.threshold);
    }
    if (debug.enabled) {
      debug('writing "%s"', data);
    }
    this.socket.send(data, { binary: typeof data !== "string", compress }, callback);
  }

  /** The stream under the ws socket, or null when ws does not expose one. */
  private rawStream(): CorkableStream | null {
    const stream = (this.socket as unknown as { _socket?: CorkableStream | null })._socket;
    return stream && typeof stream.cork === "function" ? stream : null;
  }

  /**
   * The ws sender, when pre-built frames can be written as they are: only
   * without permessage-deflate (a compressed message would need re-encoding,
   * and ws queues frames while it compresses) and on an open socket.
   */
  private frameSender(): FrameSender | null {
    if (this.perMessageDeflate || this.socket.readyState !== WsSocket.OPEN) {
      return null;
    }
    const sender = (this.socket as unknown as { _sender?: FrameSender })._sender;
    return sender && typeof sender.sendFrame === "function" ? sender : null;
  }

  protected override doClose(fn: () => void): void {
    debug("closing");
    this.socket.close();
    fn();
  }
}
