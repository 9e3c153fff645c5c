/**
 * A loopback HTTP proxy in front of the Django server that misbehaves on purpose for the
 * events endpoint: it can answer 503 without forwarding, or forward the request and then cut
 * the connection before the client hears the answer (the case where only idempotency saves
 * the client from double counting).
 */
import http from "node:http";

export function startFlakyProxy(target, plan) {
  const seen = { events: 0, rank: 0, log: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const isEvents = req.url.startsWith("/api/v1/events");
      let action = "forward";
      if (isEvents) {
        seen.events += 1;
        action = plan[seen.events - 1] ?? "forward";
      } else if (req.url.startsWith("/api/v1/rank")) {
        seen.rank += 1;
      }
      seen.log.push({ url: req.url, action });
      if (action === "503") {
        res.writeHead(503, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ detail: "proxy: try again" }));
        return;
      }
      const upstream = http.request(
        `${target}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (up) => {
          const parts = [];
          up.on("data", (c) => parts.push(c));
          up.on("end", () => {
            if (action === "drop-response") {
              // The server stored the events; the client never learns it.
              req.socket.destroy();
              return;
            }
            res.writeHead(up.statusCode, up.headers);
            res.end(Buffer.concat(parts));
          });
        },
      );
      upstream.on("error", () => req.socket.destroy());
      upstream.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(r)) });
    });
  });
}
