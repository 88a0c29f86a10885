import debugModule from "debug";
import { Adapter, BroadcastOptions } from "./adapter";
import type { Packet } from "./codec";
import type { RemoteSocket } from "./broadcast-operator";
import type { Server } from "./server";
import { Namespace } from "./namespace";
import type {
  DefaultEventsMap,
  EventsMap,
} from "./typed-events";

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
  readonly children: Set<
    Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  > = new Set();

  constructor(server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) {
    super(server, "/_" + ParentNamespace.count++);
  }

  override _initAdapter(): void {
    this.adapter = new ParentBroadcastAdapter(this);
  }

  /** Creates the child namespace for an accepted name. */
  createChild(
    name: string,
  ): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    debug("creating child namespace %s", name);
    const namespace = new Namespace(this.server, name);
    namespace._fns = this._fns.slice(0);
    this.listeners("connect").forEach((listener) =>
      namespace.on("connect", listener),
    );
    this.listeners("connection").forEach((listener) =>
      namespace.on("connection", listener),
    );
    this.children.add(namespace);

    if (this.server._opts.cleanupEmptyChildNamespaces) {
      const remove = namespace._remove;
      namespace._remove = (socket) => {
        remove.call(namespace, socket);
        if (namespace.sockets.size === 0) {
          debug("closing child namespace %s", name);
          namespace.adapter.close();
          this.server._nsps.delete(namespace.name);
          this.children.delete(namespace);
        }
      };
    }

    this.server._nsps.set(name, namespace);
    this.server.sockets._onNewNamespace(namespace);
    return namespace;
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
// a broadcast on the parent reaches every child namespace
(ParentNamespace.prototype as any).emit = function (
  this: ParentNamespace,
  ev: any,
  ...args: any[]
): boolean {
  this.children.forEach((nsp) => {
    nsp.emit(ev, ...args);
  });
  return true;
};

class ParentBroadcastAdapter extends Adapter {
  override broadcast(packet: Packet, opts: BroadcastOptions): void {
    (this.nsp as ParentNamespace).children.forEach((nsp) => {
      nsp.adapter.broadcast(packet, opts);
    });
  }
}
