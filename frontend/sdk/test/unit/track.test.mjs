import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoClient, backoffDelay } from "../../dist/index.js";
import { accepted, impression, noSleep, scriptedFetch } from "./helpers.mjs";

function client(fetch, options = {}) {
  return new KaleidoClient({ baseUrl: "http://kaleido.test", apiKey: "k", fetch, fatigue: false, sleep: noSleep, ...options });
}

describe("track()", () => {
  it("gives every event a unique id and a timestamp, and sends a full batch at once", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const sdk = client(fetch, { batchSize: 3, flushIntervalMs: 60_000 });

    const ids = [sdk.track(impression()), sdk.track(impression({ position: 2 })), sdk.track(impression({ type: "click" }))];
    const result = await sdk.flush();

    assert.equal(new Set(ids).size, 3);
    assert.equal(calls.length, 1, "one request for one full batch");
    assert.equal(calls[0].url, "http://kaleido.test/api/v1/events");
    assert.deepEqual(calls[0].body.events.map((e) => e.event_id), ids);
    for (const event of calls[0].body.events) assert.ok(!Number.isNaN(Date.parse(event.ts)));
    assert.equal(result.accepted, 3);
  });

  it("sends a partial batch once the flush interval has passed", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const sdk = client(fetch, { batchSize: 100, flushIntervalMs: 20 });

    sdk.track(impression());
    sdk.track(impression());
    assert.equal(calls.length, 0, "nothing sent before the interval");
    await new Promise((resolve) => setTimeout(resolve, 80));

    assert.equal(calls.length, 1);
    assert.equal(calls[0].body.events.length, 2);
  });

  it("splits a large queue into batches of batchSize", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const sdk = client(fetch, { batchSize: 4, flushIntervalMs: 60_000 });

    for (let i = 0; i < 10; i++) sdk.track(impression({ position: i + 1 }));
    const result = await sdk.close();

    assert.deepEqual(calls.map((c) => c.body.events.length), [4, 4, 2]);
    assert.equal(result.accepted, 10);
  });

  it("retries 5xx and network errors with the same event ids, backing off exponentially", async () => {
    const delays = [];
    const { fetch, calls } = scriptedFetch([{ status: 502 }, new TypeError("socket hang up"), { status: 503 }, accepted]);
    const sdk = client(fetch, {
      retryBaseMs: 100,
      retryMaxMs: 10_000,
      random: () => 1,
      sleep: (ms) => (delays.push(ms), Promise.resolve()),
    });

    const id = sdk.track(impression());
    const result = await sdk.flush();

    assert.equal(calls.length, 4);
    assert.ok(calls.every((c) => c.body.events[0].event_id === id), "a retry resends the same event_id");
    assert.deepEqual(delays, [100, 200, 400]);
    assert.equal(result.accepted, 1);
    assert.deepEqual(result.failed, []);
  });

  it("keeps the jittered backoff inside [0, min(max, base * 2^attempt)]", () => {
    assert.equal(backoffDelay(0, 100, 1000, () => 0), 0);
    assert.equal(backoffDelay(3, 100, 1000, () => 1), 800);
    assert.equal(backoffDelay(10, 100, 1000, () => 1), 1000);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(2, 100, 1000);
      assert.ok(d >= 0 && d <= 400);
    }
  });

  it("tells the caller about a 4xx instead of dropping the batch, and does not retry it", async () => {
    const failures = [];
    const { fetch, calls } = scriptedFetch([{ status: 403, body: { detail: "This API key lacks the 'events' scope." } }]);
    const sdk = client(fetch, { onFailed: (f) => failures.push(f) });

    const id = sdk.track(impression());
    const result = await sdk.flush();

    assert.equal(calls.length, 1);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].reason, "client_error");
    assert.equal(failures[0].status, 403);
    assert.equal(failures[0].events[0].event_id, id);
    assert.deepEqual(result.failed, failures);
  });

  it("reports each event the server rejected, matched back to the event", async () => {
    const reports = [];
    const { fetch } = scriptedFetch([
      { status: 202, body: { accepted: 1, duplicates: 0, rejected: [{ index: 1, error: "placement: unknown placement 'nope'" }] } },
    ]);
    const sdk = client(fetch, { onDelivered: (r) => reports.push(r) });

    sdk.track(impression());
    const badId = sdk.track(impression({ placement: "nope" }));
    const result = await sdk.flush();

    assert.equal(result.rejected.length, 1);
    assert.equal(result.rejected[0].event.event_id, badId);
    assert.match(result.rejected[0].error, /unknown placement/);
    assert.equal(reports[0].accepted, 1);
  });

  it("gives up after maxRetries and hands the events back to the caller", async () => {
    const failures = [];
    const { fetch, calls } = scriptedFetch([{ status: 500 }]);
    const sdk = client(fetch, { maxRetries: 2, onFailed: (f) => failures.push(f) });

    sdk.track(impression());
    await sdk.flush();

    assert.equal(calls.length, 3, "first try + 2 retries");
    assert.equal(failures[0].reason, "retries_exhausted");
    assert.equal(failures[0].events.length, 1);
  });

  it("retries a 429 like a server error", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 429 }, accepted]);
    const sdk = client(fetch);

    sdk.track(impression());
    const result = await sdk.flush();

    assert.equal(calls.length, 2);
    assert.equal(result.accepted, 1);
  });

  it("flushes on close() and refuses events after it", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const sdk = client(fetch, { flushIntervalMs: 60_000 });

    sdk.track(impression());
    sdk.track(impression({ type: "conversion" }));
    const result = await sdk.close();

    assert.equal(calls.length, 1);
    assert.equal(result.accepted, 2);
    assert.equal(sdk.queued, 0);
    assert.throws(() => sdk.track(impression()), /after close/);
  });
});
