export {
  Adapter,
  BroadcastFlags,
  BroadcastOptions,
  EncodedWriteOptions,
  NamespaceAdapter,
  PrivateSessionId,
  Room,
  Session,
  SessionToPersist,
  SocketId,
} from "./adapter/in-memory-adapter";
export { SessionAwareAdapter } from "./adapter/session-aware-adapter";
