/**
 * The SDK against the real Django server: a BFF ranks a placement for a few users, reports
 * impressions and clicks, and every event arrives exactly once although the network in front
 * of the server drops one answer and fails another request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { EventTracker, KaleidoClient, KaleidoValidationError, MemoryFatigueStore, toWireEvent } from "../../dist/index.js";
import { DjangoServer } from "../../../tests/support/django.mjs";
import { startFlakyProxy } from "../../../tests/support/flaky_proxy.mjs";

const placement = "sdk-home-banner";
const variantsCsv = [
  "variant_key,default,headline,tag:button_color,tag:appeal",
  "red-benefit,1,Earn 3% on savings,red,benefit",
  "blue-proof,0,12000 people joined today,blue,social_proof",
  "gold-authority,0,\"今天已有 12,000 人购买\",gold,authority",
].join("\n");

describe("SDK against the Django server", { timeout: 180_000 }, () => {
  const server = new DjangoServer("sdk");
  let apiKey;
  let proxy;

  before(async () => {
    await server.migrate();
    const csv = server.writeFile("variants.csv", `${variantsCsv}\n`);
    await server.manage(["import_variants", csv, "--placement", placement, "--create-placement"]);
    apiKey = await server.createApiKey("rank,events");
    await server.start();
    // Event requests 1 and 3 are stored by the server but their answers are lost; request 2 gets a 503.
    proxy = await startFlakyProxy(server.url, ["drop-response", "503", "drop-response"]);
  });

  after(async () => {
    await proxy?.close();
    await server.stop();
  });

  it("ranks, tracks through retries, and stores each event exactly once", async () => {
    const failures = [];
    const sdk = new KaleidoClient({
      baseUrl: proxy.url,
      apiKey,
      rankTimeoutMs: 10_000,
      batchSize: 6,
      flushIntervalMs: 60_000,
      retryBaseMs: 20,
      retryMaxMs: 200,
      eventsTimeoutMs: 10_000,
      onFailed: (f) => failures.push(f),
      fatigue: false,
    });

    const tracked = [];
    const decisions = [];
    for (const userId of ["u-1", "u-2", "u-3", "u-4"]) {
      const result = await sdk.rank({
        placement,
        user: { id: userId, features: { age: 30, income_band: "mid", has_credit_card: true } },
        k: 2,
        context: { device: "ios" },
      });
      assert.equal(result.fallback, undefined, "the real server answered");
      assert.equal(result.placement, placement);
      assert.ok(["control", "random", "model"].includes(result.bucket));
      assert.ok(result.items.length >= 1);
      decisions.push(result.decision_id);
      for (const item of result.items) {
        tracked.push(sdk.track({ type: "impression", decision_id: result.decision_id, variant_id: item.variant_id, user_id: userId, placement, position: item.rank }));
      }
      const top = result.items[0];
      tracked.push(sdk.track({ type: "click", decision_id: result.decision_id, variant_id: top.variant_id, user_id: userId, placement, position: 1 }));
    }
    const outcome = await sdk.close();

    assert.deepEqual(failures, [], "nothing failed for good");
    assert.deepEqual(outcome.rejected, []);
    assert.ok(proxy.seen.events > Math.ceil(tracked.length / 6), "the proxy forced retries");
    assert.ok(outcome.duplicates > 0, "a resent batch was recognised as already stored");
    assert.equal(outcome.accepted + outcome.duplicates, tracked.length, "each event counted once by the server");

    const stored = await server.shellJson(
      "import json; from analytics.models import Event; " +
        "print(json.dumps([[e.event_id, e.type, str(e.decision_id), e.placement.slug] for e in Event.objects.select_related('placement')]))",
    );
    const ids = stored.map(([id]) => id);
    assert.equal(ids.length, tracked.length, "every tracked event is stored once");
    assert.deepEqual(new Set(ids), new Set(tracked));
    assert.ok(stored.every(([, , decision]) => decisions.includes(decision)), "events carry the rank decision");
    assert.ok(stored.every(([, , , slug]) => slug === placement));
  });

  /** Rank for each user and track an impression per item and a click on the top one. */
  async function rankAndTrack(sdk, users) {
    const tracked = [];
    for (const userId of users) {
      const result = await sdk.rank({ placement, user: { id: userId, features: { age: 41 } }, k: 2 });
      for (const item of result.items) {
        tracked.push(sdk.track({ type: "impression", decision_id: result.decision_id, variant_id: item.variant_id, user_id: userId, placement, position: item.rank }));
      }
      const top = result.items[0];
      tracked.push(sdk.track({ type: "click", decision_id: result.decision_id, variant_id: top.variant_id, user_id: userId, placement, position: 1 }));
    }
    return tracked;
  }

  /** How many times each of these users' events is stored, by event_id. */
  async function storedCounts(users) {
    const rows = await server.shellJson(
      "import json; from collections import Counter; from analytics.models import Event; " +
        `print(json.dumps(Counter(Event.objects.filter(user_id__in=${JSON.stringify(users)}).values_list('event_id', flat=True))))`,
    );
    return new Map(Object.entries(rows));
  }

  /** Each tracked event is stored exactly once or reported undelivered, never both, never neither. */
  function assertAccounted(tracked, stored, undelivered) {
    const missing = new Set(undelivered.map((e) => e.event_id));
    for (const id of tracked) {
      if (missing.has(id)) assert.equal(stored.get(id), undefined, `event ${id} reported undelivered yet stored`);
      else assert.equal(stored.get(id), 1, `event ${id} stored ${stored.get(id) ?? 0} times`);
    }
    assert.equal(stored.size + missing.size, tracked.length, "nothing stored or reported that was not tracked");
  }

  describe("shutdown", () => {
    const shutdownClient = (url, failures, options = {}) =>
      new KaleidoClient({
        baseUrl: url,
        apiKey,
        rankTimeoutMs: 10_000,
        batchSize: 50,
        flushIntervalMs: 60_000,
        retryBaseMs: 20,
        retryMaxMs: 200,
        onFailed: (f) => failures.push(f),
        fatigue: false,
        ...options,
      });

    it("delivers through a 503 on the first send of close()", async () => {
      const flaky = await startFlakyProxy(server.url, ["503"]);
      try {
        const failures = [];
        const users = ["s503-1", "s503-2"];
        const sdk = shutdownClient(flaky.url, failures);
        const tracked = await rankAndTrack(sdk, users);

        const outcome = await sdk.close();

        assert.deepEqual(failures, []);
        assert.equal(flaky.seen.events, 2, "the 503, then the retry");
        assert.equal(outcome.delivered, tracked.length);
        assert.deepEqual(outcome.undelivered, []);
        assertAccounted(tracked, await storedCounts(users), outcome.undelivered);
      } finally {
        await flaky.close();
      }
    });

    it("delivers through a 429 with Retry-After", async () => {
      const flaky = await startFlakyProxy(server.url, ["429:1"]);
      try {
        const failures = [];
        const users = ["s429-1", "s429-2", "s429-3"];
        const waits = [];
        const sleep = (ms) => (waits.push(ms), new Promise((resolve) => setTimeout(resolve, ms)));
        const sdk = shutdownClient(flaky.url, failures, { sleep });
        const tracked = await rankAndTrack(sdk, users);

        const outcome = await sdk.close();

        assert.deepEqual(failures, []);
        assert.deepEqual(waits, [1000], "the retry waited as long as Retry-After asked, not the 200 ms backoff cap");
        assert.equal(flaky.seen.events, 2);
        assert.equal(outcome.delivered, tracked.length);
        assertAccounted(tracked, await storedCounts(users), outcome.undelivered);
      } finally {
        await flaky.close();
      }
    });

    it("reports what a hung server kept from it at the close() deadline", async () => {
      // The first batch goes through; the second request hangs; the third batch waits behind it.
      const flaky = await startFlakyProxy(server.url, ["forward", "hang"]);
      try {
        const failures = [];
        const users = ["shang-1", "shang-2", "shang-3", "shang-4"];
        const sdk = shutdownClient(flaky.url, failures, { batchSize: 4 });
        const tracked = await rankAndTrack(sdk, users);

        const outcome = await sdk.close({ timeoutMs: 1_500 });

        assert.equal(flaky.seen.events, 2, "nothing after the hung request was sent");
        assert.equal(outcome.delivered, 4);
        assert.equal(outcome.undelivered.length, tracked.length - 4);
        assert.ok(failures.length > 0 && failures.every((f) => f.reason === "shutdown_timeout"));
        assert.deepEqual(failures.flatMap((f) => f.events), outcome.undelivered, "onFailed heard of each undelivered event");
        assertAccounted(tracked, await storedCounts(users), outcome.undelivered);
      } finally {
        await flaky.close();
      }
    });
  });

  it("drops the oldest events from a full queue while a batch waits out Retry-After, and reports each", async () => {
    // The first batch is told to wait 4 s; meanwhile 9 more events arrive at a 5-event queue.
    const flaky = await startFlakyProxy(server.url, ["503:4"]);
    try {
      const failures = [];
      const users = ["sfull-1", "sfull-2", "sfull-3", "sfull-4"];
      const sdk = new KaleidoClient({
        baseUrl: flaky.url, apiKey, rankTimeoutMs: 10_000, batchSize: 3, maxQueue: 5, flushIntervalMs: 60_000,
        retryBaseMs: 20, retryMaxMs: 200, onFailed: (f) => failures.push(f), fatigue: false,
      });
      const tracked = await rankAndTrack(sdk, users);

      const outcome = await sdk.close();

      assert.equal(outcome.dropped, 4);
      assert.equal(sdk.dropped, 4);
      assert.equal(outcome.delivered, tracked.length - 4);
      assert.deepEqual(failures.map((f) => f.reason), ["queue_full", "queue_full", "queue_full", "queue_full"]);
      assert.deepEqual(outcome.undelivered, failures.flatMap((f) => f.events));
      assert.deepEqual(outcome.undelivered.map((e) => e.event_id), tracked.slice(3, 7), "the oldest waiting events went first");
      assertAccounted(tracked, await storedCounts(users), outcome.undelivered);
    } finally {
      await flaky.close();
    }
  });

  it("stores an impression that carries the fatigue re-rank fields", async () => {
    // The SDK adds rerank/server_position to impressions of a re-ranked decision; the server must
    // accept and store them like any other event (the next test reads them back).
    const sdk = new KaleidoClient({ baseUrl: server.url, apiKey, fatigue: false });
    const result = await sdk.rank({ placement, user: { id: "srerank-1" }, k: 2 });
    const tracker = new EventTracker({ fetch, eventsUrl: `${server.url}/api/v1/events`, headers: () => ({ Authorization: `Api-Key ${apiKey}` }) });
    const event = {
      ...toWireEvent({ type: "impression", decision_id: result.decision_id, variant_id: result.items[1].variant_id, user_id: "srerank-1", placement, position: 1 }),
      rerank: "fatigue",
      server_position: 2,
    };

    tracker.enqueue(event);
    const outcome = await tracker.close();

    assert.equal(outcome.accepted, 1);
    assert.deepEqual(outcome.rejected, []);
    assertAccounted([event.event_id], await storedCounts(["srerank-1"]), []);
    await sdk.close();
  });

  it("a slate its fatigue re-rank reordered reaches the interaction log with the shown and the server's slots", async () => {
    // Every bucket re-ranked here (by default only the model bucket is), so the placement's default mode serves.
    const sdk = new KaleidoClient({
      baseUrl: server.url,
      apiKey,
      fatigue: { maxImpressions: 1, buckets: ["control", "random", "model"], store: new MemoryFatigueStore() },
    });
    const user = { id: "tired-1", features: { age: 52 } };
    const first = await sdk.rank({ placement, user, k: 1 });
    sdk.track({ type: "impression", decision_id: first.decision_id, variant_id: first.items[0].variant_id, user_id: user.id, placement, position: 1 });
    let slate;
    for (let tries = 0; tries < 20 && !slate?.reranked; tries++) slate = await sdk.rank({ placement, user, k: 3 });
    assert.equal(slate.reranked, true, "the variant seen once without a click moved behind the others");
    for (const item of slate.items) {
      sdk.track({ type: "impression", decision_id: slate.decision_id, variant_id: item.variant_id, user_id: user.id, placement, position: item.rank });
    }
    sdk.track({ type: "click", decision_id: slate.decision_id, variant_id: slate.items[0].variant_id, user_id: user.id, placement, position: 1 });
    const outcome = await sdk.close();
    assert.deepEqual(outcome.rejected, []);

    const rows = await server.shellJson(
      "import json; import pandas as pd; from analytics.interaction_log import bandit_feedback; from creative.models import Placement; " +
        `f = bandit_feedback(placement=Placement.objects.get(slug='${placement}'), buckets=[]).frame; ` +
        `f = f[f['decision_id'].str.replace('-', '') == '${slate.decision_id.replaceAll("-", "")}']; ` +
        "print(json.dumps([[int(r.variant_id), int(r.position), int(r.server_position), r.rerank, r.rerank_probability, " +
        "None if pd.isna(r.propensity) else float(r.propensity), float(r.served_propensity), int(r.clicked)] for r in f.itertuples()]))",
    );
    const byVariant = new Map(rows.map(([variant, ...rest]) => [variant, rest]));
    assert.equal(byVariant.size, 3);
    for (const item of slate.items) {
      const [position, serverPosition, rerank, probability, propensity, served, clicked] = byVariant.get(item.variant_id);
      assert.equal(position, item.rank, "the slot the user saw");
      assert.equal(serverPosition, item.server_rank, "the slot the server's policy chose");
      assert.equal(served, item.propensity, "the propensity the server answered, for its own slot");
      const moved = item.rank !== item.server_rank;
      assert.deepEqual([rerank, probability], ["fatigue", 1], "every impression of a re-ranked slate says so");
      assert.equal(propensity, moved ? null : item.propensity, "no propensity for a slot the policy never chose");
      assert.equal(clicked, item.rank === 1 ? 1 : 0);
    }
    assert.equal(slate.items.at(-1).variant_id, first.items[0].variant_id, "the fatigued variant went last");
  });

  it("answers with the caller's fallback when the server cannot be reached", async () => {
    const offline = new KaleidoClient({ baseUrl: "http://127.0.0.1:9", apiKey, fatigue: false });
    const fallback = { decision_id: "", placement, bucket: "control", experiment: null, model_version: null, items: [] };

    const result = await offline.rank({ placement, user: { id: "u-9" } }, { timeoutMs: 2000, fallback });

    assert.equal(result.fallback.reason, "network_error");
    assert.equal(result.bucket, "control");
  });

  it("refuses a fallback's impression at once, as the server would reject it", async () => {
    // What the server does with an event that names no decision, sent past the SDK's check:
    const tracker = new EventTracker({ fetch, eventsUrl: `${server.url}/api/v1/events`, headers: () => ({ Authorization: `Api-Key ${apiKey}` }) });
    const result = await new KaleidoClient({ baseUrl: server.url, apiKey, fatigue: false }).rank({ placement, user: { id: "snodecision-1" } });
    const undecided = { ...toWireEvent({ type: "impression", decision_id: result.decision_id, variant_id: result.items[0].variant_id, user_id: "snodecision-1", placement }) };
    delete undecided.decision_id;
    tracker.enqueue(undecided);
    const outcome = await tracker.close();

    assert.equal(outcome.accepted, 0);
    assert.match(outcome.rejected[0]?.error ?? "", /^decision_id: required/);

    // What the SDK does with a fallback answer's impression: refuses it before anything is sent.
    const offline = new KaleidoClient({ baseUrl: "http://127.0.0.1:9", apiKey, fatigue: false });
    const fallback = { decision_id: "", placement, bucket: "control", experiment: null, model_version: null, items: result.items };
    const served = await offline.rank({ placement, user: { id: "snodecision-2" } }, { timeoutMs: 2000, fallback });
    assert.throws(
      () => offline.track({ type: "impression", decision_id: served.decision_id, variant_id: served.items[0].variant_id, user_id: "snodecision-2", placement }),
      (error) => error instanceof KaleidoValidationError && error.field === "decision_id",
    );
    assert.equal(offline.queued, 0);
    await offline.close();
    assertAccounted([], await storedCounts(["snodecision-1", "snodecision-2"]), []);
  });

  it("reports a key without the events scope instead of dropping the events", async () => {
    const rankOnly = await server.createApiKey("rank");
    const failures = [];
    const sdk = new KaleidoClient({ baseUrl: server.url, apiKey: rankOnly, onFailed: (f) => failures.push(f), fatigue: false });
    const { decision_id: decisionId, items } = await sdk.rank({ placement, user: { id: "u-1" } });

    const id = sdk.track({ type: "impression", decision_id: decisionId, variant_id: items[0].variant_id, user_id: "u-1", placement });
    const outcome = await sdk.close();

    assert.equal(failures.length, 1);
    assert.equal(failures[0].status, 403);
    assert.equal(failures[0].events[0].event_id, id);
    assert.deepEqual(outcome.failed, failures);
  });
});
