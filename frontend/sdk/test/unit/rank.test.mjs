import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoApiError, KaleidoAuthError, KaleidoClient, KaleidoUnavailableError } from "../../dist/index.js";
import { rankResponse, scriptedFetch } from "./helpers.mjs";

const request = {
  placement: "wealth-home-banner",
  user: { id: "u-123", features: { age: 34, gender: "f", has_credit_card: true } },
  k: 3,
  context: { device: "ios" },
};
const defaultDesign = () => rankResponse({ decision_id: "", bucket: "control", model_version: null, items: rankResponse().items.slice(0, 1) });

describe("rank()", () => {
  it("posts the request with the API key and returns the ranked items", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 200, body: rankResponse() }]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test/", apiKey: "k-secret", fetch, fatigue: false });

    const result = await client.rank(request);

    assert.equal(calls[0].url, "http://kaleido.test/api/v1/rank");
    assert.equal(calls[0].init.method, "POST");
    assert.equal(calls[0].headers.Authorization, "Api-Key k-secret");
    assert.deepEqual(calls[0].body, request);
    assert.equal(result.bucket, "model");
    assert.deepEqual(result.items.map((i) => i.variant_id), [411, 412, 413]);
    assert.equal(result.fallback, undefined);
  });

  it("returns the caller's fallback when the server is slower than the deadline", async () => {
    const slow = () => new Promise((resolve) => setTimeout(() => resolve(new Response("{}", { status: 200 })), 500));
    const { fetch } = scriptedFetch([slow]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false });

    const started = Date.now();
    const result = await client.rank(request, { timeoutMs: 30, fallback: defaultDesign });

    assert.ok(Date.now() - started < 400, "did not wait for the slow server");
    assert.equal(result.fallback.reason, "timeout");
    assert.equal(result.bucket, "control");
    assert.equal(result.items.length, 1);
  });

  it("returns the fallback on a server error and on a network failure", async () => {
    const { fetch } = scriptedFetch([{ status: 503, body: { detail: "down" } }, new TypeError("fetch failed")]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false });

    const onError = await client.rank(request, { fallback: defaultDesign() });
    const onNetwork = await client.rank(request, { fallback: defaultDesign() });

    assert.deepEqual([onError.fallback.reason, onError.fallback.status], ["server_error", 503]);
    assert.equal(onNetwork.fallback.reason, "network_error");
  });

  it("throws when the server fails and the caller gave no fallback", async () => {
    const { fetch } = scriptedFetch([{ status: 500 }]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false });

    await assert.rejects(client.rank(request), (error) => error instanceof KaleidoUnavailableError && error.status === 500);
  });

  it("throws a client error (4xx) even with a fallback, with the server's field messages", async () => {
    const body = { detail: "Invalid input.", errors: { placement: ["Unknown placement."] } };
    const { fetch } = scriptedFetch([{ status: 404, body }]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false });

    await assert.rejects(client.rank(request, { fallback: defaultDesign }), (error) => {
      assert.ok(error instanceof KaleidoApiError);
      assert.equal(error.status, 404);
      assert.deepEqual(error.body, body);
      return true;
    });
  });

  it("answers the fallback on a 429, with the reason and the server's Retry-After", async () => {
    const { fetch } = scriptedFetch([{ status: 429, headers: { "Retry-After": "12" }, body: { detail: "slow down" } }]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false });

    const result = await client.rank(request, { fallback: defaultDesign });

    assert.deepEqual([result.fallback.reason, result.fallback.status, result.fallback.retryAfterMs], ["rate_limited", 429, 12_000]);
    await assert.rejects(client.rank(request), (error) => error instanceof KaleidoUnavailableError && error.reason === "rate_limited");
  });

  it("throws a 401/403 even with a fallback, and logs it as an error once", async () => {
    const lines = [];
    const logger = { error: (message, fields) => lines.push({ message, fields }) };
    const { fetch } = scriptedFetch([{ status: 403, body: { detail: "This API key lacks the 'rank' scope." } }]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", apiKey: "k", fetch, fatigue: false, logger });

    for (let i = 0; i < 3; i++) {
      await assert.rejects(client.rank(request, { fallback: defaultDesign }), (error) => {
        assert.ok(error instanceof KaleidoAuthError && error instanceof KaleidoApiError);
        assert.equal(error.status, 403);
        return true;
      });
    }
    assert.equal(lines.length, 1, "loud once, not once per request");
    assert.match(lines[0].message, /API key/);
    assert.equal(lines[0].fields.status, 403);
  });

  it("answers the fallback on a 401 when authErrors is 'fallback'", async () => {
    const lines = [];
    const logger = { error: (message) => lines.push(message) };
    const { fetch } = scriptedFetch([{ status: 401, body: { detail: "Invalid API key." } }]);
    const client = new KaleidoClient({ baseUrl: "http://kaleido.test", apiKey: "k", fetch, fatigue: false, logger, authErrors: "fallback" });

    const first = await client.rank(request, { fallback: defaultDesign });
    const second = await client.rank(request, { fallback: defaultDesign });

    assert.deepEqual([first.fallback.reason, first.fallback.status], ["auth_error", 401]);
    assert.equal(second.fallback.reason, "auth_error");
    assert.equal(lines.length, 1);
    await assert.rejects(client.rank(request), KaleidoAuthError, "without a fallback it still throws");
  });

  it("throws the caller's own mistakes (400, 409, 413) whatever the fallback", async () => {
    for (const status of [400, 409, 413]) {
      const { fetch } = scriptedFetch([{ status, body: { detail: "no" } }]);
      const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch, fatigue: false, authErrors: "fallback" });
      await assert.rejects(client.rank(request, { fallback: defaultDesign }), (error) => error instanceof KaleidoApiError && error.status === status);
    }
  });
});
