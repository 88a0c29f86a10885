/**
 * The Socket.IO packet codec, protocol v5: the default `parser` of the server, with
 * the API of socket.io-parser v4 (`protocol`, `PacketType`, `Encoder`, `Decoder`,
 * `isPacketValid`).
 */
export { protocol, PacketType, RESERVED_EVENTS } from "./packet";
export type { Packet, EncodedPacket, PacketDecoder, PacketEncoder, Replacer, Reviver } from "./packet";
export { Encoder } from "./encoder";
export { Decoder, isPacketValid } from "./decoder";
export type { DecoderOptions } from "./decoder";
export { MAX_DEPTH } from "./binary";
