import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoApiError, KaleidoClient, KaleidoValidationError, MockKaleidoClient, fallbackFromDesign } from "../../dist/index.js";
import { DECISION, scriptedFetch } from "./helpers.mjs";

/**
 * A BFF handler as a team would write it: rank with a fallback, track the impression of a ranked
 * answer (a fallback's goes to the BFF's own analytics: Kaleido records no event without a decision).
 */
async function homeBanner(kaleido, userId, ownAnalytics = []) {
  const fallback = fallbackFromDesign("home-banner", { variant_id: 7, variant_key: "default", render: { headline: "Save more" } });
  const result = await kaleido.rank({ placement: "home-banner", user: { id: userId }, k: 1 }, { timeoutMs: 300, fallback });
  const top = result.items[0];
  if (result.fallback) ownAnalytics.push({ variant_id: top.variant_id, reason: result.fallback.reason });
  else kaleido.track({ type: "impression", decision_id: result.decision_id, variant_id: top.variant_id, user_id: userId, placement: "home-banner", position: top.rank });
  return { variant: top.variant_id, fallback: result.fallback?.reason };
}

describe("MockKaleidoClient", () => {
  it("answers each placement's fixed answer and records the events", async () => {
    const kaleido = new MockKaleidoClient({ answers: { "home-banner": { items: [{ variant_id: 42 }, { variant_id: 43 }] } } });

    const shown = await homeBanner(kaleido, "u-1");

    assert.deepEqual(shown, { variant: 42, fallback: undefined });
    assert.equal(kaleido.rankRequests[0].user.id, "u-1");
    assert.deepEqual(kaleido.tracked.map((e) => [e.type, e.variant_id, e.position]), [["impression", 42, 1]], "recorded at once");
    assert.ok(kaleido.tracked[0].decision_id, "the mock makes up a decision id");
    await kaleido.flush();
    assert.deepEqual(kaleido.events, kaleido.tracked, "and the fake server stored them");
  });

  it("plays failures, so the fallback path can be tested", async () => {
    const ownAnalytics = [];
    const kaleido = new MockKaleidoClient({ answers: { "home-banner": "timeout" } });
    assert.deepEqual(await homeBanner(kaleido, "u-1", ownAnalytics), { variant: 7, fallback: "timeout" });

    kaleido.setAnswer("home-banner", { status: 503 });
    assert.deepEqual(await homeBanner(kaleido, "u-2", ownAnalytics), { variant: 7, fallback: "server_error" });

    kaleido.setAnswer("home-banner", "network_error");
    assert.deepEqual(await homeBanner(kaleido, "u-3", ownAnalytics), { variant: 7, fallback: "network_error" });

    assert.deepEqual(ownAnalytics.map((e) => e.reason), ["timeout", "server_error", "network_error"]);
    assert.deepEqual(kaleido.tracked, [], "nothing about the fallbacks went to Kaleido");
  });

  it("refuses a fallback's impression, as the real client does, saying why", async () => {
    const kaleido = new MockKaleidoClient({ answers: { "home-banner": "timeout" } });
    const fallback = fallbackFromDesign("home-banner", { variant_id: 7 });
    const result = await kaleido.rank({ placement: "home-banner", user: { id: "u-1" } }, { fallback });

    assert.throws(
      () => kaleido.track({ type: "impression", decision_id: result.decision_id, variant_id: 7, user_id: "u-1", placement: "home-banner" }),
      (error) => error instanceof KaleidoValidationError && error.field === "decision_id" && /fallback answer has no decision/.test(error.message),
    );
    assert.deepEqual(kaleido.tracked, []);
  });

  it("answers 404 for a placement it was not given, like the server", async () => {
    const kaleido = new MockKaleidoClient();
    await assert.rejects(kaleido.rank({ placement: "nope", user: { id: "u" } }), (error) => error instanceof KaleidoApiError && error.status === 404);
  });

  it("validates track() like the real client, and reset() forgets what it recorded", async () => {
    const kaleido = new MockKaleidoClient({ answers: { p: (request) => ({ items: [{ variant_id: request.user.id === "vip" ? 2 : 1 }] }) } });
    assert.equal((await kaleido.rank({ placement: "p", user: { id: "vip" } })).items[0].variant_id, 2);
    assert.throws(() => kaleido.track({ type: "impression", decision_id: DECISION, variant_id: 1, user_id: "u", placement: "p", position: 0 }), /position/);

    kaleido.track({ type: "click", decision_id: DECISION, variant_id: 2, user_id: "vip", placement: "p" });
    kaleido.reset();

    assert.deepEqual(kaleido.tracked, []);
    assert.deepEqual(kaleido.rankRequests, []);
  });
});

describe("fallbackFromDesign()", () => {
  it("builds a control answer without a decision from the default design", () => {
    const answer = fallbackFromDesign("home-banner", [
      { variant_id: 7, variant_key: "default", image_url: "/media/7.png", render: { headline: "Save more" }, pinned: false },
      { variant_id: 8 },
    ]);

    assert.deepEqual(answer, {
      decision_id: "",
      placement: "home-banner",
      bucket: "control",
      experiment: null,
      model_version: null,
      items: [
        { variant_id: 7, variant_key: "default", rank: 1, score: null, propensity: 1, tags: {}, image_url: "/media/7.png", render: { headline: "Save more" }, pinned: false },
        { variant_id: 8, variant_key: "variant-8", rank: 2, score: null, propensity: 1, tags: {}, image_url: "", render: {}, pinned: false },
      ],
    });
  });
});

describe("logger", () => {
  function logged(level) {
    const lines = [];
    const at = (name) => (message, fields) => lines.push([name, message, fields]);
    const logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    const { fetch } = scriptedFetch([{ status: 503 }]);
    const sdk = new KaleidoClient({ baseUrl: "http://k.test", fetch, fatigue: false, logger, logLevel: level, circuitBreaker: false });
    return { sdk, lines };
  }
  const fallback = fallbackFromDesign("p", { variant_id: 1 });

  it("writes structured fields from the chosen level up", async () => {
    const { sdk, lines } = logged("info");
    await sdk.rank({ placement: "p", user: { id: "u" } }, { fallback });
    assert.deepEqual(lines, [["info", "rank answered the fallback", { placement: "p", reason: "server_error", status: 503 }]]);
  });

  it("stays quiet under its level, and a throwing logger does not break a call", async () => {
    const { sdk, lines } = logged("warn");
    await sdk.rank({ placement: "p", user: { id: "u" } }, { fallback });
    assert.deepEqual(lines, []);

    const { fetch } = scriptedFetch([{ status: 503 }]);
    const broken = { info: () => { throw new Error("log sink down"); } };
    const sdk2 = new KaleidoClient({ baseUrl: "http://k.test", fetch, fatigue: false, logger: broken, logLevel: "debug" });
    assert.equal((await sdk2.rank({ placement: "p", user: { id: "u" } }, { fallback })).fallback.reason, "server_error");
  });
});
