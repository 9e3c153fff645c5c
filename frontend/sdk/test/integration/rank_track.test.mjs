/**
 * The SDK against the real Django server: a BFF ranks a placement for a few users, reports
 * impressions and clicks, and every event arrives exactly once although the network in front
 * of the server drops one answer and fails another request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { KaleidoClient } from "../../dist/index.js";
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

  it("answers with the caller's fallback when the server cannot be reached", async () => {
    const offline = new KaleidoClient({ baseUrl: "http://127.0.0.1:9", apiKey, fatigue: false });
    const fallback = { decision_id: "", placement, bucket: "control", experiment: null, model_version: null, items: [] };

    const result = await offline.rank({ placement, user: { id: "u-9" } }, { timeoutMs: 2000, fallback });

    assert.equal(result.fallback.reason, "network_error");
    assert.equal(result.bucket, "control");
  });

  it("reports a key without the events scope instead of dropping the events", async () => {
    const rankOnly = await server.createApiKey("rank");
    const failures = [];
    const sdk = new KaleidoClient({ baseUrl: server.url, apiKey: rankOnly, onFailed: (f) => failures.push(f), fatigue: false });

    const id = sdk.track({ type: "impression", variant_id: 1, user_id: "u-1", placement });
    const outcome = await sdk.close();

    assert.equal(failures.length, 1);
    assert.equal(failures[0].status, 403);
    assert.equal(failures[0].events[0].event_id, id);
    assert.deepEqual(outcome.failed, failures);
  });
});
