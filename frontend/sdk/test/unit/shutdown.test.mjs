import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { KaleidoClient } from "../../dist/index.js";
import { accepted, impression, scriptedFetch } from "./helpers.mjs";

const run = promisify(execFile);
const sdkUrl = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/index.js")).href;

/** A fetch that never answers until its request is aborted (a hung server). */
function hungFetch() {
  const calls = [];
  const fetch = (url, init = {}) => {
    calls.push({ url, body: JSON.parse(init.body), signal: init.signal });
    return new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
  };
  return { fetch, calls };
}

function client(fetch, options = {}) {
  return new KaleidoClient({ baseUrl: "http://kaleido.test", apiKey: "k", fetch, fatigue: false, flushIntervalMs: 60_000, ...options });
}

/** Runs a plain Node script (no test runner holding the event loop open), as a BFF's shutdown would. */
async function runScript(source) {
  const dir = mkdtempSync(path.join(tmpdir(), "kaleido-sdk-shutdown-"));
  try {
    const file = path.join(dir, "bff.mjs");
    writeFileSync(file, source.replaceAll("SDK_URL", sdkUrl));
    return await run(process.execPath, [file]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error) => ({ code: error.code, stdout: error.stdout ?? "" }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("close()", () => {
  it("keeps a plain Node process alive through a retry wait until the events are delivered", async () => {
    // Before the fix the unref'd retry timer let Node exit (code 13) with nothing delivered or reported.
    const { code, stdout } = await runScript(`
      import { KaleidoClient } from "SDK_URL";
      let calls = 0;
      const fetch = async (url, init) => {
        calls += 1;
        if (calls === 1) return new Response('{"detail":"busy"}', { status: 503 });
        const n = JSON.parse(init.body).events.length;
        return new Response(JSON.stringify({ accepted: n, duplicates: 0, rejected: [] }), { status: 202 });
      };
      const failed = [];
      const sdk = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false, flushIntervalMs: 60000,
                                      retryBaseMs: 200, retryMaxMs: 200, random: () => 1, onFailed: (f) => failed.push(f) });
      for (const position of [1, 2]) sdk.track({ type: "impression", decision_id: "6f1c2d7e-0000-4000-8000-0000000000aa", variant_id: 1, user_id: "u", placement: "p", position });
      // No deadline, so no deadline timer: only close() itself can hold the process open.
      const result = await sdk.close({ timeoutMs: Infinity });
      console.log(JSON.stringify({ calls, delivered: result.delivered, undelivered: result.undelivered.length, failed: failed.length }));
    `);

    assert.equal(code, 0, "the script ran to its end");
    assert.deepEqual(JSON.parse(stdout), { calls: 2, delivered: 2, undelivered: 0, failed: 0 });
  });

  it("gives up at its deadline against a hung server and reports every event undelivered", async () => {
    const { fetch, calls } = hungFetch();
    const failures = [];
    const sdk = client(fetch, { batchSize: 2, onFailed: (f) => failures.push(f) });

    const ids = [1, 2, 3, 4, 5].map((position) => sdk.track(impression({ position })));
    const result = await sdk.close({ timeoutMs: 50 });

    assert.equal(calls.length, 1, "only the first batch went out before the deadline");
    assert.ok(calls[0].signal.aborted, "the request in flight was cut off");
    assert.equal(result.delivered, 0);
    assert.deepEqual(result.undelivered.map((e) => e.event_id), ids);
    assert.ok(failures.every((f) => f.reason === "shutdown_timeout"));
    assert.deepEqual(failures.flatMap((f) => f.events.map((e) => e.event_id)), ids, "onFailed heard of each event once");
    assert.deepEqual(result.failed, failures);
  });

  it("stops a retry wait at its deadline", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 503 }]);
    const failures = [];
    // A retry wait that would outlast any shutdown window.
    const sdk = client(fetch, { sleep: () => new Promise(() => undefined), onFailed: (f) => failures.push(f) });

    const id = sdk.track(impression());
    const result = await sdk.close({ timeoutMs: 30 });

    assert.equal(calls.length, 1);
    assert.deepEqual(result.undelivered.map((e) => e.event_id), [id]);
    assert.equal(failures[0].reason, "shutdown_timeout");
    assert.equal(failures[0].attempts, 1);
  });

  it("resolves with what it delivered when the server answers in time", async () => {
    const { fetch } = scriptedFetch([accepted]);
    const sdk = client(fetch);

    sdk.track(impression());
    sdk.track(impression({ type: "click" }));
    const result = await sdk.close({ timeoutMs: 5_000 });

    assert.equal(result.delivered, 2);
    assert.deepEqual(result.undelivered, []);
  });
});
