/**
 * A loopback HTTP proxy in front of the Django server that misbehaves on purpose for the
 * events endpoint. `plan[n]` is what it does with the (n+1)-th events request:
 * - "forward" (or nothing): pass it on;
 * - "503" / "429": answer that status without forwarding; "429:2" / "503:2" add `Retry-After: 2`;
 * - "drop-response": forward, then cut the connection before the client hears the answer (the
 *   case where only idempotency saves the client from double counting);
 * - "hang": never forward and never answer (a hung server), until the proxy closes.
 * `rankPlan` does the same for rank requests.
 */
import http from "node:http";

export function startFlakyProxy(target, plan, rankPlan = []) {
  const seen = { events: 0, rank: 0, log: [] };
  const hung = new Set();
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
        action = rankPlan[seen.rank - 1] ?? "forward";
      }
      seen.log.push({ url: req.url, action, body: isEvents ? JSON.parse(body.toString() || "{}") : undefined });
      const refusal = /^(429|503)(?::(\d+))?$/.exec(action);
      if (refusal) {
        const headers = { "Content-Type": "application/json" };
        if (refusal[2] !== undefined) headers["Retry-After"] = refusal[2];
        res.writeHead(Number(refusal[1]), headers);
        res.end(JSON.stringify({ detail: "proxy: try again" }));
        return;
      }
      if (action === "hang") {
        hung.add(req.socket);
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
      const close = () => {
        for (const socket of hung) socket.destroy();
        server.closeAllConnections?.();
        return new Promise((r) => server.close(r));
      };
      resolve({ url: `http://127.0.0.1:${port}`, seen, close });
    });
  });
}
