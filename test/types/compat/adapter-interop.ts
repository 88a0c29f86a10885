// Code written against socket.io-adapter's own classes (a custom adapter, a
// cast to it, replacing a namespace's adapter) works with the namespace's
// adapter.
//
// One difference remains: `const a: Adapter /* socket.io-adapter */ =
// io.of("/").adapter` compiles only against the reference, whose
// `Namespace.adapter` is socket.io-adapter's class itself. That class has
// protected members, which TypeScript compares nominally: only an instance of
// it or of a subclass is assignable to it, and this package does not depend on
// socket.io-adapter.
import { Server, Namespace } from "socket.io";
import { Adapter, BroadcastOptions } from "socket.io-adapter";

class LoggingAdapter extends Adapter {
  override broadcast(packet: any, opts: BroadcastOptions): void {
    console.log("broadcast to", [...opts.rooms]);
    super.broadcast(packet, opts);
  }
}

const io = new Server({ adapter: LoggingAdapter });
io.adapter(LoggingAdapter);

const logging = io.of("/").adapter as LoggingAdapter;
const rooms: Map<string, Set<string>> = logging.rooms;

function replace(nsp: Namespace): void {
  nsp.adapter = new LoggingAdapter(nsp);
  nsp.adapter.on("delete-room", (room) => console.log(`room ${room} is gone`));
}
replace(io.of("/chat"));
