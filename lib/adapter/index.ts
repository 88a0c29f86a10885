export {
  Adapter,
  AdapterConstructor,
  AdapterNamespace,
  FetchedSocket,
  LocalSocket,
  BroadcastFlags,
  BroadcastOptions,
  EncodedWriteOptions,
  NamespaceAdapter,
  PrivateSessionId,
  Room,
  Session,
  SessionToPersist,
  SocketId,
} from "./in-memory-adapter";
export { SessionAwareAdapter } from "./session-aware-adapter";
