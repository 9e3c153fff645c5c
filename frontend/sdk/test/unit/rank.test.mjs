import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoApiError, KaleidoClient, KaleidoUnavailableError } from "../../dist/index.js";
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
});
