import { createReadStream, readFileSync } from "fs";
import type { IncomingMessage, ServerResponse } from "http";
import { join } from "path";
import { pipeline } from "stream";
import { createBrotliCompress, createDeflate, createGzip } from "zlib";
import accepts from "accepts";

// the bundles are copied from socket.io-client at build time (scripts/copy-client.js)
const CLIENT_DIST = join(__dirname, "..", "client-dist");

// The bundles only change with the package, so its version is a strong ETag.
const EXPECTED_ETAG =
  '"' + JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")).version + '"';
const WEAK_ETAG = "W/" + EXPECTED_ETAG;

/**
 * Builds the pattern of the client bundle URLs under a Socket.IO path: the
 * bundles that exist, socket.io.js, .min.js, .esm.min.js, .msgpack.min.js and
 * their .map files. Any other name under the path is left to the engine,
 * which answers it (400, unknown transport) as for the reference.
 */
export function clientPathRegex(path: string): RegExp {
  const escapedPath = path.replace(/[-\/\\^$*+?.()|[\]{}]/g, "\\$&");
  return new RegExp(
    "^" + escapedPath + "/socket\\.io(\\.min|\\.esm\\.min|\\.msgpack\\.min)?\\.js(\\.map)?(?:\\?|$)",
  );
}

/**
 * Answers a request for a client bundle: 304 when the client's copy is
 * current, otherwise the file, compressed when the client accepts it.
 */
export function serveClientFile(path: string, req: IncomingMessage, res: ServerResponse): void {
  const filename = req.url!.replace(path, "").replace(/\?.*$/, "");
  const isMap = filename.endsWith(".map");
  const etag = req.headers["if-none-match"];
  if (etag && (etag === EXPECTED_ETAG || etag === WEAK_ETAG)) {
    res.writeHead(304);
    res.end();
    return;
  }

  res.setHeader("Cache-Control", "public, max-age=0");
  res.setHeader("Content-Type", "application/" + (isMap ? "json" : "javascript") + "; charset=utf-8");
  res.setHeader("ETag", EXPECTED_ETAG);

  const readStream = createReadStream(join(CLIENT_DIST, filename));
  const onError = (err: NodeJS.ErrnoException | null) => {
    if (err) res.end();
  };
  switch (accepts(req).encodings(["br", "gzip", "deflate"])) {
    case "br":
      res.writeHead(200, { "content-encoding": "br" });
      pipeline(readStream, createBrotliCompress(), res, onError);
      break;
    case "gzip":
      res.writeHead(200, { "content-encoding": "gzip" });
      pipeline(readStream, createGzip(), res, onError);
      break;
    case "deflate":
      res.writeHead(200, { "content-encoding": "deflate" });
      pipeline(readStream, createDeflate(), res, onError);
      break;
    default:
      res.writeHead(200);
      pipeline(readStream, res, onError);
  }
}
