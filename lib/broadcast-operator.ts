import debugModule from "debug";
import type { BroadcastFlags, NamespaceAdapter, Room, SocketId } from "./adapter";
import { PacketType, RESERVED_EVENTS } from "./codec";
import type { Handshake } from "./socket";
import type {
  AllButLast,
  DecorateAcknowledgementsWithMultipleResponses,
  DecorateAcknowledgementsWithTimeoutAndMultipleResponses,
  EventNames,
  EventNamesWithAck,
  EventParams,
  EventsMap,
  FirstNonErrorArg,
  Last,
  TypedEventBroadcaster,
} from "./typed-events";

const debug = debugModule("socket.io:broadcast-operator");

/** Reserved names would confuse the state machines of the clients. */
export function assertNotReserved(ev: string | symbol): void {
  if (RESERVED_EVENTS.has(ev)) {
    throw new Error(`"${String(ev)}" is a reserved event name`);
  }
}

interface OperatorFlags extends BroadcastFlags {
  expectSingleResponse?: boolean;
}

/**
 * A set of target rooms, excluded rooms and flags, on which `emit()` and the
 * utility methods act. Every modifier returns a new operator, so that
 * `io.to("a")` can be kept and reused.
 */
export class BroadcastOperator<
  EmitEvents extends EventsMap,
  SocketData,
> implements TypedEventBroadcaster<EmitEvents> {
  constructor(
    private readonly adapter: NamespaceAdapter,
    private readonly rooms: Set<Room> = new Set<Room>(),
    private readonly exceptRooms: Set<Room> = new Set<Room>(),
    private readonly flags: OperatorFlags = {},
  ) {}

  /**
   * Targets a room when emitting. Chained calls add rooms; a socket in several
   * of them still receives the event once.
   *
   * @example
   * io.to("room-101").to(["room-102", "room-103"]).emit("foo", "bar");
   */
  public to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    const rooms = new Set(this.rooms);
    if (Array.isArray(room)) {
      for (const r of room) rooms.add(r);
    } else {
      rooms.add(room);
    }
    return new BroadcastOperator(this.adapter, rooms, this.exceptRooms, this.flags);
  }

  /**
   * Targets a room when emitting. Alias of `to()`.
   *
   * @example
   * io.in("room-101").disconnectSockets();
   */
  public in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.to(room);
  }

  /**
   * Excludes a room when emitting.
   *
   * @example
   * io.except("room-101").emit("foo", "bar");
   */
  public except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    const exceptRooms = new Set(this.exceptRooms);
    if (Array.isArray(room)) {
      for (const r of room) exceptRooms.add(r);
    } else {
      exceptRooms.add(room);
    }
    return new BroadcastOperator(this.adapter, this.rooms, exceptRooms, this.flags);
  }

  /**
   * Sets the compress flag.
   *
   * @example
   * io.compress(false).emit("hello");
   */
  public compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.withFlags({ compress });
  }

  /**
   * The event may be lost if a client is not ready to receive it (for example
   * while its polling request is in flight).
   *
   * @example
   * io.volatile.emit("hello");
   */
  public get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.withFlags({ volatile: true });
  }

  /**
   * The event is only sent to the clients connected to this node, when several
   * nodes share an adapter.
   *
   * @example
   * io.local.emit("foo", "bar");
   */
  public get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.withFlags({ local: true });
  }

  /**
   * Sets a timeout for the acknowledgements of every targeted client.
   *
   * @example
   * io.timeout(1000).emit("some-event", (err, responses) => {
   *   // err is set if some client did not answer in time
   * });
   */
  public timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData> {
    return this.withFlags({ timeout }) as BroadcastOperator<any, SocketData>;
  }

  private withFlags(flags: OperatorFlags): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator(
      this.adapter,
      this.rooms,
      this.exceptRooms,
      Object.assign({}, this.flags, flags),
    );
  }

  /**
   * Emits to every targeted client. With a trailing callback, the callback
   * receives an error if the timeout elapses, and the array of responses.
   *
   * @example
   * io.to("room-101").emit("hello", "world");
   *
   * io.timeout(1000).emit("some-event", (err, responses) => {});
   */
  public emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean {
    assertNotReserved(ev);
    const data: unknown[] = [ev, ...args];
    const packet: { type: PacketType; data: unknown[]; nsp: string; id?: number } = {
      type: PacketType.EVENT,
      data,
      nsp: "",
    };
    const opts = {
      rooms: this.rooms,
      except: this.exceptRooms,
      flags: this.flags,
    };

    if (typeof data[data.length - 1] !== "function") {
      this.adapter.broadcast(packet, opts);
      return true;
    }

    const ack = data.pop() as (...args: any[]) => void;
    const single = this.flags.expectSingleResponse === true;
    const responses: unknown[] = [];
    let timedOut = false;
    let expectedServerCount = -1;
    let actualServerCount = 0;
    let expectedClientCount = 0;

    const onClientResponse = (clientResponse: unknown): void => {
      responses.push(clientResponse);
      checkCompleteness();
    };

    const timer = setTimeout(() => {
      timedOut = true;
      this.forgetPendingAcks(packet.id, onClientResponse);
      ack.apply(this, [new Error("operation has timed out"), single ? null : responses]);
    }, this.flags.timeout);

    const checkCompleteness = () => {
      if (
        !timedOut &&
        expectedServerCount === actualServerCount &&
        responses.length === expectedClientCount
      ) {
        clearTimeout(timer);
        ack.apply(this, [null, single ? responses[0] : responses]);
      }
    };

    try {
      this.adapter.broadcastWithAck(
        packet,
        opts,
        (clientCount: number) => {
          expectedClientCount += clientCount;
          actualServerCount++;
          checkCompleteness();
        },
        onClientResponse,
      );
    } catch (err) {
      // nothing was sent (data that cannot be encoded): no timeout to report later
      clearTimeout(timer);
      throw err;
    }

    let serverCount: Promise<number>;
    try {
      serverCount = Promise.resolve(this.adapter.serverCount());
    } catch (err) {
      serverCount = Promise.reject(err);
    }
    // an adapter that cannot count the servers (its bus is down) leaves the
    // answer to the timeout, which reports what arrived, rather than raising an
    // unhandled rejection that would end the process
    serverCount.then(
      (count: number) => {
        expectedServerCount = count;
        checkCompleteness();
      },
      (err: unknown) => debug("serverCount() failed: %s", err instanceof Error ? err.message : err),
    );

    return true;
  }

  /**
   * Once a broadcast has timed out, the local sockets that did not answer
   * forget its ack (the adapter registered it on each target under the
   * packet id), so that nothing stays pending. Whatever the adapter, only the
   * namespace's sockets are known here: they are all looked at, which only
   * happens on a timeout.
   */
  private forgetPendingAcks(id: number | undefined, onClientResponse: (response: unknown) => void): void {
    const sockets:
      | Map<SocketId, { _forgetAck?: (id: number, ack: unknown) => void; acks: Map<number, unknown> }>
      | undefined = this.adapter.nsp && this.adapter.nsp.sockets;
    if (id === undefined || sockets === undefined) return;
    for (const socket of sockets.values()) {
      // our sockets make their map of acks on first access: no map, no ack to forget
      if (socket._forgetAck !== undefined) socket._forgetAck(id, onClientResponse);
      else if (socket.acks.get(id) === onClientResponse) socket.acks.delete(id);
    }
  }

  /**
   * Emits and waits for the acknowledgements of every targeted client. When
   * the timeout elapses first, the promise rejects with an error whose
   * `responses` holds the acknowledgements received until then.
   *
   * @example
   * try {
   *   const responses = await io.timeout(1000).emitWithAck("some-event");
   * } catch (err) {
   *   console.log(err.responses); // the clients that answered in time
   * }
   */
  public emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstNonErrorArg<Last<EventParams<EmitEvents, Ev>>>> {
    const single = this.flags.expectSingleResponse === true;
    return new Promise((resolve, reject) => {
      args.push((err: (Error & { responses?: unknown[] }) | null, responses: any) => {
        if (!err) return resolve(responses);
        if (!single) err.responses = responses;
        reject(err);
      });
      this.emit(ev, ...(args as any));
    });
  }

  /**
   * Returns the ids of the matching sockets.
   *
   * @deprecated use `fetchSockets()` instead.
   */
  public allSockets(): Promise<Set<SocketId>> {
    if (!this.adapter) {
      throw new Error(
        "No adapter for this namespace, are you trying to get the list of clients of a dynamic namespace?",
      );
    }
    return this.adapter.sockets(this.rooms);
  }

  /**
   * Returns the matching socket instances: `Socket` objects for this node and
   * `RemoteSocket` objects for the others.
   *
   * @example
   * const sockets = await io.in("room1").fetchSockets();
   * for (const socket of sockets) {
   *   console.log(socket.id, socket.handshake, socket.rooms, socket.data);
   *   socket.emit("hello");
   * }
   */
  public fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]> {
    return this.adapter
      .fetchSockets({
        rooms: this.rooms,
        except: this.exceptRooms,
        flags: this.flags,
      })
      .then((sockets) =>
        sockets.map((socket) =>
          // a local socket (it has its server) is returned as it is, as with the reference
          (socket as { server?: unknown }).server
            ? (socket as unknown as RemoteSocket<EmitEvents, SocketData>)
            : new RemoteSocket<EmitEvents, SocketData>(this.adapter, socket as SocketDetails<SocketData>),
        ),
      );
  }

  /**
   * Makes the matching sockets join the given rooms.
   *
   * @example
   * io.in("room1").socketsJoin(["room2", "room3"]);
   */
  public socketsJoin(room: Room | Room[]): void {
    this.adapter.addSockets(
      { rooms: this.rooms, except: this.exceptRooms, flags: this.flags },
      Array.isArray(room) ? room : [room],
    );
  }

  /**
   * Makes the matching sockets leave the given rooms.
   *
   * @example
   * io.in("room1").socketsLeave("room2");
   */
  public socketsLeave(room: Room | Room[]): void {
    this.adapter.delSockets(
      { rooms: this.rooms, except: this.exceptRooms, flags: this.flags },
      Array.isArray(room) ? room : [room],
    );
  }

  /**
   * Disconnects the matching sockets; with `close`, their whole connection.
   *
   * @example
   * io.in("room1").disconnectSockets(true);
   */
  public disconnectSockets(close: boolean = false): void {
    this.adapter.disconnectSockets({ rooms: this.rooms, except: this.exceptRooms, flags: this.flags }, close);
  }
}

/** The serialisable description of a socket, as sent between nodes. */
export interface SocketDetails<SocketData> {
  id: SocketId;
  handshake: Handshake;
  rooms: Room[];
  data: SocketData;
}

/**
 * A socket known through the adapter (possibly on another node): it can be
 * emitted to, made to join or leave rooms, and disconnected.
 */
export class RemoteSocket<
  EmitEvents extends EventsMap,
  SocketData,
> implements TypedEventBroadcaster<EmitEvents> {
  public readonly id: SocketId;
  public readonly handshake: Handshake;
  public readonly rooms: Set<Room>;
  public readonly data: SocketData;

  private readonly operator: BroadcastOperator<EmitEvents, SocketData>;

  constructor(adapter: NamespaceAdapter, details: SocketDetails<SocketData>) {
    this.id = details.id;
    this.handshake = details.handshake;
    this.rooms = new Set(details.rooms);
    this.data = details.data;
    this.operator = new BroadcastOperator<EmitEvents, SocketData>(adapter, new Set([this.id]), new Set(), {
      expectSingleResponse: true,
    });
  }

  /**
   * Adds a timeout in milliseconds for the next operation.
   *
   * @example
   * const [socket] = await io.fetchSockets();
   * socket.timeout(1000).emit("some-event", (err, answer) => {});
   */
  public timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData> {
    return this.operator.timeout(timeout) as BroadcastOperator<any, SocketData>;
  }

  /**
   * Emits to this socket.
   *
   * @example
   * const [socket] = await io.fetchSockets();
   * socket.emit("hello", "world");
   */
  public emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean {
    return this.operator.emit(ev, ...args);
  }

  /**
   * Joins a room.
   *
   * @example
   * socket.join("room1");
   */
  public join(room: Room | Room[]): void {
    return this.operator.socketsJoin(room);
  }

  /**
   * Leaves a room.
   *
   * @example
   * socket.leave("room1");
   */
  public leave(room: Room): void {
    return this.operator.socketsLeave(room);
  }

  /**
   * Disconnects this socket; with `close`, its whole connection.
   *
   * @example
   * socket.disconnect(true);
   */
  public disconnect(close = false): this {
    this.operator.disconnectSockets(close);
    return this;
  }
}
