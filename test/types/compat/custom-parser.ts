// A custom parser: socket.io-msgpack-parser, and one written by hand as the
// documentation shows.
import { EventEmitter } from "events";
import { Server } from "socket.io";
import * as msgpackParser from "socket.io-msgpack-parser";
import customParser = require("socket.io-msgpack-parser");

new Server({ parser: msgpackParser });
new Server(3000, { parser: customParser });

class JsonEncoder {
  encode(packet: object): string[] {
    return [JSON.stringify(packet)];
  }
}

class JsonDecoder extends EventEmitter {
  add(chunk: string): void {
    this.emit("decoded", JSON.parse(chunk));
  }
  destroy(): void {
    this.removeAllListeners();
  }
}

new Server({ parser: { Encoder: JsonEncoder, Decoder: JsonDecoder } });
