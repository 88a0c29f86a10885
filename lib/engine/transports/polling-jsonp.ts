/**
 * JSONP long-polling (Engine.IO v3 clients, `j` query parameter).
 *
 * Responses are script bodies calling `___eio[j](payload)`; the client sends
 * its payload as the `d` field of a form POST, with newlines escaped.
 */
import * as qs from "querystring";
import { Polling } from "./polling";
import type { EngineRequest } from "../transport";

// The client escapes "\n" as "\\n" and a pre-existing "\\n" as "\\\\n".
const ESCAPED_NEWLINE = /(\\)?\\n/g;
const DOUBLE_ESCAPED_NEWLINE = /\\\\n/g;

function unescapeNewline(match: string, slash: string | undefined): string {
  return slash ? match : "\n";
}

export class JSONP extends Polling {
  private readonly head: string;

  constructor(req: EngineRequest) {
    super(req);
    this.head = "___eio[" + String(req._query.j || "").replace(/[^0-9]/g, "") + "](";
    // a script body can only carry text
    this.supportsBinary = false;
  }

  protected override onData(data: string | Buffer): void {
    const field = qs.parse(data.toString()).d;
    if (typeof field === "string") {
      super.onData(field.replace(ESCAPED_NEWLINE, unescapeNewline).replace(DOUBLE_ESCAPED_NEWLINE, "\\n"));
    }
  }

  protected override contentType(): string {
    return "text/javascript; charset=UTF-8";
  }

  protected override wrap(data: string | Buffer): string {
    // U+2028/U+2029 are valid in JSON but end a line in pre-ES2019 JavaScript
    const js = JSON.stringify(data.toString())
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029");
    return this.head + js + ");";
  }
}
