import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoClient, KaleidoValidationError } from "../../dist/index.js";
import { accepted, impression, noSleep, scriptedFetch } from "./helpers.mjs";

function client(fetch, options = {}) {
  return new KaleidoClient({ baseUrl: "http://kaleido.test", apiKey: "k", fetch, fatigue: false, sleep: noSleep, flushIntervalMs: 60_000, ...options });
}

function recordingLogger() {
  const lines = [];
  const at = (level) => (message, fields) => lines.push({ level, message, fields });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

describe("bounded queue", () => {
  it("drops the oldest event when full, reports each one, and sends the rest", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const failures = [];
    const { lines, logger } = recordingLogger();
    const sdk = client(fetch, { batchSize: 100, maxQueue: 3, onFailed: (f) => failures.push(f), logger });

    const ids = [1, 2, 3, 4, 5].map((position) => sdk.track(impression({ position })));

    assert.equal(sdk.queued, 3);
    assert.deepEqual(failures.map((f) => [f.reason, f.events[0].event_id]), [["queue_full", ids[0]], ["queue_full", ids[1]]]);
    assert.equal(lines.filter((l) => l.level === "warn" && /queue full/.test(l.message)).length, 1, "warned once, not per event");
    const result = await sdk.flush();
    assert.deepEqual(calls[0].body.events.map((e) => e.event_id), ids.slice(2));
    assert.equal(result.delivered, 3);
    assert.equal(result.dropped, 2);
    assert.deepEqual(result.undelivered.map((e) => e.event_id), ids.slice(0, 2));
    assert.equal(sdk.dropped, 2);
  });

  it("can drop the newest event instead", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const failures = [];
    const sdk = client(fetch, { batchSize: 100, maxQueue: 2, overflow: "drop-newest", onFailed: (f) => failures.push(f) });

    const ids = [1, 2, 3].map((position) => sdk.track(impression({ position })));
    await sdk.flush();

    assert.deepEqual(calls[0].body.events.map((e) => e.event_id), ids.slice(0, 2));
    assert.deepEqual(failures.map((f) => f.events[0].event_id), [ids[2]]);
  });

  it("keeps a batch retrying out of the count, and the queue bounded behind it", async () => {
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    const { fetch, calls } = scriptedFetch([async (call) => (await gate, accepted(call))]);
    const sdk = client(fetch, { batchSize: 2, maxQueue: 4, onFailed: () => undefined });

    sdk.track(impression({ position: 1 }));
    sdk.track(impression({ position: 2 }));
    await new Promise((resolve) => setImmediate(resolve)); // the full batch leaves
    for (let i = 2; i < 20; i++) sdk.track(impression({ position: i + 1 }));
    assert.equal(sdk.queued, 4, "20 tracked, 2 in flight, 4 waiting, the rest dropped");
    release();
    const result = await sdk.flush();

    assert.equal(result.delivered, 6);
    assert.equal(result.dropped, 14);
    assert.equal(calls.length, 3);
  });
});

describe("track() validation", () => {
  const cases = [
    [{ type: "view" }, "type"],
    [{ variant_id: 0 }, "variant_id"],
    [{ variant_id: "411" }, "variant_id"],
    [{ variant_id: 1.5 }, "variant_id"],
    [{ user_id: "" }, "user_id"],
    [{ user_id: "u".repeat(129) }, "user_id"],
    [{ placement: undefined }, "placement"],
    [{ position: 0 }, "position"],
    [{ position: 1001 }, "position"],
    [{ position: 2.5 }, "position"],
    [{ ts: "2026-11-21T10:00:00" }, "ts"],
    [{ ts: "yesterday" }, "ts"],
    [{ ts: new Date("nope") }, "ts"],
    [{ ts: new Date(Date.now() + 3 * 24 * 3600 * 1000) }, "ts"],
    [{ decision_id: "not-a-uuid" }, "decision_id"],
    [{ decision_id: undefined }, "decision_id"],
    [{ decision_id: null }, "decision_id"],
    [{ decision_id: "" }, "decision_id"],
    [{ event_id: "e".repeat(65) }, "event_id"],
  ];

  it("throws at once, naming the field, and queues nothing", () => {
    const { fetch } = scriptedFetch([accepted]);
    const sdk = client(fetch);
    for (const [override, field] of cases) {
      assert.throws(() => sdk.track(impression(override)), (error) => {
        assert.ok(error instanceof KaleidoValidationError, `${JSON.stringify(override)} threw ${error}`);
        assert.equal(error.field, field);
        return true;
      });
    }
    assert.throws(() => sdk.track(null), KaleidoValidationError);
    assert.equal(sdk.queued, 0);
  });

  it("accepts what the server accepts", async () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const sdk = client(fetch);

    sdk.track(impression({ ts: new Date("2026-11-21T10:00:00Z"), decision_id: "6f1c2d7e-0000-4000-8000-000000000001" }));
    sdk.track(impression({ ts: "2026-11-21T18:00:00+08:00", decision_id: "6F1C2D7E00004000800000000000000B", position: 1000 }));
    await sdk.flush();

    const [first, second] = calls[0].body.events;
    assert.equal(first.ts, "2026-11-21T10:00:00.000Z");
    assert.equal(first.decision_id, "6f1c2d7e-0000-4000-8000-000000000001");
    assert.equal(second.decision_id, "6F1C2D7E00004000800000000000000B", "sent as given: the server reads any UUID form");
  });

  it("refuses an event without a decision at once, saying that fallback answers have none", () => {
    const { fetch, calls } = scriptedFetch([accepted]);
    const rejected = [];
    const sdk = client(fetch, { invalidEvents: "report", onRejected: (r) => rejected.push(r) });

    sdk.track(impression({ decision_id: "" }));

    assert.equal(sdk.queued, 0);
    assert.equal(calls.length, 0);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0].source, "client");
    assert.match(rejected[0].error, /^decision_id: required.*fallback answer has no decision.*your own analytics/);
  });

  it("with invalidEvents: 'report', hands the event to onRejected instead of throwing", () => {
    const { fetch } = scriptedFetch([accepted]);
    const rejected = [];
    const sdk = client(fetch, { invalidEvents: "report", onRejected: (r) => rejected.push(r) });

    const id = sdk.track(impression({ position: -1 }));

    assert.equal(sdk.queued, 0);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0].source, "client");
    assert.equal(rejected[0].event.event_id, id);
    assert.match(rejected[0].error, /^position: /);
  });
});

describe("server rejections", () => {
  const answer = { status: 202, body: { accepted: 1, duplicates: 0, rejected: [{ index: 0, error: "placement: unknown placement 'gone'" }] } };

  it("reach onRejected without an onDelivered", async () => {
    const { fetch } = scriptedFetch([answer]);
    const rejected = [];
    const sdk = client(fetch, { onRejected: (r) => rejected.push(r) });

    const id = sdk.track(impression({ placement: "gone" }));
    sdk.track(impression());
    await sdk.flush();

    assert.deepEqual(rejected.map((r) => [r.event.event_id, r.source]), [[id, "server"]]);
    assert.match(rejected[0].error, /unknown placement/);
  });

  it("are logged when nobody listens", async () => {
    const { fetch } = scriptedFetch([answer]);
    const { lines, logger } = recordingLogger();
    const sdk = client(fetch, { logger });

    sdk.track(impression({ placement: "gone" }));
    sdk.track(impression());
    await sdk.flush();

    const warning = lines.find((l) => l.level === "warn" && /rejected/.test(l.message));
    assert.equal(warning.fields.count, 1);
    assert.match(warning.fields.first, /unknown placement/);
  });
});

describe("baseUrl", () => {
  it("must be an absolute http(s) URL outside a browser, checked at construction", () => {
    for (const bad of ["", "kaleido.internal", "ftp://kaleido.internal", "/kaleido", "http://kaleido.internal/?x=1", undefined]) {
      assert.throws(() => new KaleidoClient({ baseUrl: bad, fetch: () => undefined }), TypeError, String(bad));
    }
    for (const good of ["http://127.0.0.1:8000", "https://kaleido.internal/", "https://gw.example.com/kaleido"]) {
      assert.doesNotThrow(() => new KaleidoClient({ baseUrl: good, fetch: () => undefined, fatigue: false }));
    }
  });
});
