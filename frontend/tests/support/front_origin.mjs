/**
 * One origin for a test page, the SDK's built files and the API, as a BFF or a CDN would put in front of
 * both: `/sdk/…` serves frontend/sdk/dist, the `passThrough` prefixes go to Django, anything else is a
 * blank page with one `<div id="slot">`.
 */
import { createReadStream, existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";

import { freePort, repoRoot } from "./django.mjs";

const DIST = path.join(repoRoot, "frontend", "sdk", "dist");

export async function startFrontOrigin(apiUrl, { passThrough = ["/api/"], bodyStyle = "" } = {}) {
  const port = await freePort();
  const server = http.createServer((req, res) => {
    if (passThrough.some((prefix) => req.url.startsWith(prefix))) {
      const upstream = new URL(req.url, apiUrl);
      const forward = http.request(upstream, { method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      forward.on("error", () => res.writeHead(502).end());
      req.pipe(forward);
      return;
    }
    if (req.url.startsWith("/sdk/")) {
      const file = path.join(DIST, path.normalize(req.url.slice(5).split("?")[0]));
      if (!file.startsWith(DIST) || !existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": file.endsWith(".js") ? "text/javascript" : "application/octet-stream" });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    const style = bodyStyle ? ` style="${bodyStyle}"` : "";
    res.end(`<!doctype html><html><body${style}><div id="slot"></div></body></html>`);
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}
