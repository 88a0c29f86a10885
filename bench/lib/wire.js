"use strict";

// The least a WebSocket client does, over a plain TCP socket, for the benches' thousands of
// clients: the upgrade request written as one string, text frames read and written by hand
// (masked with a zero key: the mask is mandatory, a random key is not what servers check),
// pings answered. The `ws` client costs its process several times more per connection
// (the HTTP client, a random key and its SHA-1 check, streams), enough to make the client
// processes, not the server, the bottleneck of a connection-rate bench.
//
// `handler` gets onWireOpen(wire), onWireText(wire, text) and onWireClose(wire, reason).

const net = require("net");

const ZERO_MASK = Buffer.alloc(4);
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

class Wire {
  constructor({ port, path, localAddress, localPort }, handler) {
    this.handler = handler;
    this.open = false;
    this.closed = false;
    this.buffer = null;
    this.fragments = null;
    this.socket = net.connect({ host: "127.0.0.1", port, localAddress, localPort });
    this.socket.setNoDelay(true);
    this.socket.on("connect", () => {
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
    });
    this.socket.on("data", (chunk) => this.onData(chunk));
    this.socket.on("error", (err) => this.close(`error: ${err.message}`));
    this.socket.on("close", () => this.close("tcp close"));
  }

  onData(chunk) {
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (!this.open) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      const status = this.buffer.toString("latin1", 0, 12);
      if (status !== "HTTP/1.1 101")
        return this.close(`upgrade refused: ${this.buffer.toString("latin1", 0, end)}`);
      this.buffer = this.buffer.length > end + 4 ? this.buffer.subarray(end + 4) : null;
      this.open = true;
      this.handler.onWireOpen(this);
    }
    while (this.buffer && !this.closed) {
      const frame = this.readFrame();
      if (!frame) return;
      this.onFrame(frame.opcode, frame.fin, frame.payload);
    }
  }

  /** The next whole frame at the head of the buffer, or null (server frames are not masked). */
  readFrame() {
    const buf = this.buffer;
    if (buf.length < 2) return null;
    let length = buf[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buf.length < 4) return null;
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buf.length < 10) return null;
      length = Number(buf.readBigUInt64BE(2));
      offset = 10;
    }
    if (buf.length < offset + length) return null;
    const payload = buf.subarray(offset, offset + length);
    this.buffer = buf.length > offset + length ? buf.subarray(offset + length) : null;
    return { opcode: buf[0] & 0x0f, fin: (buf[0] & 0x80) !== 0, payload };
  }

  onFrame(opcode, fin, payload) {
    if (opcode === OPCODE_PING) return this.write(OPCODE_PONG, payload);
    if (opcode === OPCODE_CLOSE)
      return this.close(`websocket close (${payload.length >= 2 ? payload.readUInt16BE(0) : "no code"})`);
    if (opcode === OPCODE_PONG) return;
    // text or binary, possibly in fragments (opcode 0 continues the message)
    if (!fin || this.fragments) {
      (this.fragments || (this.fragments = [])).push(Buffer.from(payload));
      if (!fin) return;
      payload = Buffer.concat(this.fragments);
      this.fragments = null;
    }
    this.handler.onWireText(this, payload.toString());
  }

  write(opcode, payload) {
    const length = payload.length;
    if (length > 0xffff) throw new Error("bench frames stay under 64 KB");
    const header =
      length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | length])
        : Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
    this.socket.write(Buffer.concat([header, ZERO_MASK, payload]));
  }

  /** Sends one text message. */
  send(text) {
    if (this.open && !this.closed) this.write(OPCODE_TEXT, Buffer.from(text));
  }

  close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.handler.onWireClose(this, reason);
  }
}

module.exports = { Wire };
