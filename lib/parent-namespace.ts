import debugModule from "debug";
import { Adapter, BroadcastOptions } from "./adapter";
import type { Packet } from "./codec";
import type { RemoteSocket } from "./broadcast-operator";
import type { Server } from "./server";
import { Namespace } from "./namespace";
import type { Socket } from "./socket";
import type { DefaultEventsMap, EventNamesWithoutAck, EventParams, EventsMap } from "./typed-events";

const debug = debugModule("socket.io:parent-namespace");

/**
 * The namespace behind `io.of(/regex/)` or `io.of(fn)`: it has no sockets of
 * its own but creates a child namespace for every accepted name, and a
 * broadcast on it reaches every child.
 *
 * @example
 * io.of(/^\/dynamic-\d+$/).on("connection", (socket) => {
 *   const namespace = socket.nsp; // the child, e.g. "/dynamic-101"
 *   namespace.emit("hello");
 * });
 */
export class ParentNamespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  private static count: number = 0;
  readonly children: Set<Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> = new Set();

  constructor(server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) {
    super(server, "/_" + ParentNamespace.count++);
  }

  /** @internal */
  override _initAdapter(): void {
    this.adapter = new ParentBroadcastAdapter(this);
  }

  /**
   * Creates the child namespace for an accepted name.
   *
   * @internal
   */
  createChild(name: string): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    debug("creating child namespace %s", name);
    const namespace = new ChildNamespace(this, name);
    namespace._fns = this._fns.slice(0);
    this.listeners("connect").forEach((listener) => namespace.on("connect", listener));
    this.listeners("connection").forEach((listener) => namespace.on("connection", listener));
    this.listeners("rate_limited").forEach((listener) => namespace.on("rate_limited", listener));
    this.children.add(namespace);
    this.server._nsps.set(name, namespace);
    this.server.sockets._onNewNamespace(namespace);
    return namespace;
  }

  /**
   * Closes a child namespace left without sockets, with `cleanupEmptyChildNamespaces`.
   *
   * @internal
   */
  _onChildEmpty(namespace: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    if (!this.server._opts.cleanupEmptyChildNamespaces) {
      return;
    }
    debug("closing child namespace %s", namespace.name);
    namespace.adapter.close();
    this.server._nsps.delete(namespace.name);
    this.children.delete(namespace);
  }

  /**
   * Emits to every client of every child namespace. The type of an emit is
   * Namespace's (`io.of(/regex/)` returns a Namespace); this override only
   * forwards its arguments as they are.
   *
   * @example
   * io.of(/^\/dynamic-\d+$/).emit("hello");
   */
  public override emit(ev: string | symbol, ...args: unknown[]): boolean {
    this.children.forEach((nsp) => {
      nsp.emit(
        ev as EventNamesWithoutAck<EmitEvents>,
        ...(args as EventParams<EmitEvents, EventNamesWithoutAck<EmitEvents>>),
      );
    });
    return true;
  }

  /** Not supported: the children may differ from one server to another. */
  public override fetchSockets(): Promise<RemoteSocket<EmitEvents, SocketData>[]> {
    throw new Error("fetchSockets() is not supported on parent namespaces");
  }
}

/**
 * The adapter of a parent namespace: a broadcast is handed to the adapter of
 * every child, each of which encodes the packet with its own namespace name.
 */
class ParentBroadcastAdapter extends Adapter {
  override broadcast(packet: Packet, opts: BroadcastOptions): void {
    (this.nsp as ParentNamespace).children.forEach((nsp) => {
      nsp.adapter.broadcast(packet, opts);
    });
  }
}

/** A namespace created by a parent for an accepted name: it tells the parent when it is empty. */
class ChildNamespace<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> extends Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  constructor(
    private readonly parent: ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    name: string,
  ) {
    super(parent.server, name);
  }

  /** @internal */
  override _remove(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    super._remove(socket);
    if (this.sockets.size === 0) {
      this.parent._onChildEmpty(this);
    }
  }
}
