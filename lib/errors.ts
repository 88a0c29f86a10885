/**
 * The error codes of the Socket.IO codec and of the Engine.IO transports, in one
 * catalog (in the manner of ws's `WS_ERR_*`): `err.code` is stable and can be
 * tested, `err.message` is the reference's wording, kept as it is.
 *
 * - `SIO_ERR_*`: a chunk the Socket.IO decoder refuses (thrown by `Decoder.add()`;
 *   the server then closes the client with "parse error" and reports the error to
 *   the sockets' "error" listeners), or data `emit()` cannot encode (thrown to the
 *   caller);
 * - `EIO_ERR_*`: why an Engine.IO transport failed, the `description` of a
 *   "transport error" close (the "disconnect" reason of the Socket.IO sockets).
 *
 * A leaf module: every layer may import it, it imports nothing of the package.
 */

const CATALOG = {
  // Socket.IO decoder
  /** a text chunk came while a binary packet waited for its attachments */
  SIO_ERR_UNEXPECTED_TEXT: () => "got plaintext data when reconstructing a packet",
  /** a binary chunk came while no binary packet waited for attachments */
  SIO_ERR_UNEXPECTED_BINARY: () => "got binary data when not reconstructing a packet",
  /** a chunk neither text nor binary */
  SIO_ERR_UNKNOWN_CHUNK: (description: string) => "Unknown type: " + description,
  /** the first character is not a packet type */
  SIO_ERR_UNKNOWN_PACKET_TYPE: (type: string) => "unknown packet type " + type,
  /** a binary packet without a valid attachment count */
  SIO_ERR_ILLEGAL_ATTACHMENTS: () => "Illegal attachments",
  /** more attachments announced than `maxAttachments` */
  SIO_ERR_TOO_MANY_ATTACHMENTS: () => "too many attachments",
  /** a placeholder that points to no attachment */
  SIO_ERR_INVALID_PLACEHOLDER: () => "illegal attachments",
  /** an ack id that is not a safe integer */
  SIO_ERR_INVALID_ACK_ID: () => "invalid ack id",
  /** a payload that is not JSON, or not of the shape of its packet type */
  SIO_ERR_INVALID_PAYLOAD: () => "invalid payload",
  /** a payload nested deeper than MAX_DEPTH levels */
  SIO_ERR_PAYLOAD_TOO_DEEP: () => "payload too deep",
  // Socket.IO encoder
  /** data to send nested deeper than MAX_DEPTH levels, or circular */
  SIO_ERR_DATA_TOO_DEEP: (maxDepth: number) =>
    `data nested deeper than ${maxDepth} levels (or circular) cannot be sent`,

  // Engine.IO transports and sessions
  /** the pending GET of a polling session was closed by the client */
  EIO_ERR_POLL_CLOSED: () => "poll connection closed prematurely",
  /** a second GET while one is pending */
  EIO_ERR_POLL_OVERLAP: () => "overlap from client",
  /** a second POST while one is being received */
  EIO_ERR_DATA_OVERLAP: () => "data request overlap from client",
  /** a POST closed by the client before its body was complete */
  EIO_ERR_DATA_CLOSED: () => "data request connection closed prematurely",
  /** a binary POST body where the protocol revision has none */
  EIO_ERR_INVALID_CONTENT: () => "invalid content",
  /** a POST body over `maxHttpBufferSize` (answered 413) */
  EIO_ERR_PAYLOAD_TOO_LARGE: () => "payload too large",
  /** a POST body in more pieces than `maxBufferedChunks` (answered 413) */
  EIO_ERR_TOO_MANY_CHUNKS: () => "too many chunks",
  /** a POST body slower than `httpRequestBodyTimeout` (answered 408) */
  EIO_ERR_BODY_TIMEOUT: () => "http request timeout",
  /** a WebSocket write failed */
  EIO_ERR_WRITE: () => "write error",
  /** the WebSocket failed: ws's error as a string, its name included */
  EIO_ERR_WEBSOCKET: (message: string) => message,
  /** a ping from a v4 client, or a pong from a v3 client */
  EIO_ERR_HEARTBEAT_DIRECTION: () => "invalid heartbeat direction",
} satisfies Record<string, (...args: never[]) => string>;

export type ErrorCode = keyof typeof CATALOG;

/** An error of the catalog. */
export interface CodedError<C extends ErrorCode = ErrorCode> extends Error {
  code: C;
}

/**
 * Creates the error of `code`, its message completed with `args` where it has a detail.
 *
 * @example
 * throw codedError("SIO_ERR_UNKNOWN_PACKET_TYPE", "9"); // message "unknown packet type 9"
 */
export function codedError<C extends ErrorCode>(
  code: C,
  ...args: Parameters<(typeof CATALOG)[C]>
): CodedError<C> {
  const message = (CATALOG[code] as (...details: unknown[]) => string)(...args);
  const err = new Error(message) as CodedError<C>;
  err.code = code;
  return err;
}
