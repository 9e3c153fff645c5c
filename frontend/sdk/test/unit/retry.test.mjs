import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoClient, parseRetryAfter } from "../../dist/index.js";
import { accepted, fakeClock, impression, rankResponse, scriptedFetch } from "./helpers.mjs";

function client(fetch, clock, options = {}) {
  return new KaleidoClient({
    baseUrl: "http://kaleido.test",
    apiKey: "k",
    fetch,
    fatigue: false,
    flushIntervalMs: 60_000,
    random: () => 0,
    sleep: clock.sleep,
    now: clock.now,
    ...options,
  });
}

const request = { placement: "wealth-home-banner", user: { id: "u-1" }, k: 2 };
const fallback = () => rankResponse({ decision_id: "", bucket: "control", model_version: null });

describe("retries", () => {
  it("waits as long as a 429's Retry-After asks, then resends the same events", async () => {
    const clock = fakeClock();
    const { fetch, calls } = scriptedFetch([{ status: 429, headers: { "Retry-After": "3" } }, accepted]);
    const sdk = client(fetch, clock);

    const id = sdk.track(impression());
    const result = await sdk.flush();

    assert.deepEqual(clock.slept, [3000], "the backoff (0 here) gave way to Retry-After");
    assert.equal(calls.length, 2);
    assert.equal(calls[1].body.events[0].event_id, id);
    assert.equal(result.delivered, 1);
  });

  it("honours a 503's Retry-After given as an HTTP date", async () => {
    const clock = fakeClock();
    const at = new Date(clock.t + 5000).toUTCString();
    const { fetch } = scriptedFetch([{ status: 503, headers: { "Retry-After": at } }, accepted]);
    const sdk = client(fetch, clock);

    sdk.track(impression());
    await sdk.flush();

    assert.equal(clock.slept.length, 1);
    assert.equal(clock.slept[0], 5000);
  });

  it("keeps retrying for the retry window, then reports the batch", async () => {
    const clock = fakeClock();
    const failures = [];
    const { fetch, calls } = scriptedFetch([{ status: 503 }]);
    const sdk = client(fetch, clock, {
      random: () => 1,
      retryBaseMs: 1000,
      retryMaxMs: 4000,
      retryWindowMs: 10_000,
      circuitBreaker: false,
      onFailed: (f) => failures.push(f),
    });

    sdk.track(impression());
    await sdk.flush();

    assert.deepEqual(clock.slept, [1000, 2000, 4000], "a fourth wait would end past the 10 s window");
    assert.equal(calls.length, 4);
    assert.equal(failures[0].reason, "retries_exhausted");
    assert.equal(failures[0].status, 503);
  });

  it("gives up at once when Retry-After points past the window, and says so", async () => {
    const clock = fakeClock();
    const failures = [];
    const { fetch, calls } = scriptedFetch([{ status: 429, headers: { "Retry-After": "120" } }]);
    const sdk = client(fetch, clock, { retryWindowMs: 60_000, onFailed: (f) => failures.push(f) });

    sdk.track(impression());
    await sdk.flush();

    assert.equal(calls.length, 1);
    assert.deepEqual(clock.slept, []);
    assert.equal(failures[0].reason, "retries_exhausted");
    assert.equal(failures[0].retryAfterMs, 120_000);
  });

  it("reads Retry-After in seconds and as a date, and ignores what it cannot read", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    assert.equal(parseRetryAfter("2", now), 2000);
    assert.equal(parseRetryAfter("Tue, 01 Dec 2026 10:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Tue, 01 Dec 2026 09:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});

describe("circuit breaker", () => {
  it("stops calling rank after repeated failures, answers the fallback, and tries again after the cooldown", async () => {
    const clock = fakeClock();
    const { fetch, calls } = scriptedFetch([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200, body: rankResponse() }]);
    const sdk = client(fetch, clock, { circuitBreaker: { failureThreshold: 3, cooldownMs: 5000 } });

    for (let i = 0; i < 3; i++) assert.equal((await sdk.rank(request, { fallback })).fallback.reason, "server_error");
    assert.equal(sdk.circuit, "open");
    const skipped = await sdk.rank(request, { fallback });

    assert.equal(calls.length, 3, "the open circuit made no request");
    assert.equal(skipped.fallback.reason, "circuit_open");
    assert.equal(skipped.bucket, "control");

    clock.t += 5000;
    assert.equal(sdk.circuit, "half_open");
    const served = await sdk.rank(request, { fallback });
    assert.equal(served.fallback, undefined);
    assert.equal(sdk.circuit, "closed", "one success closes it");
  });

  it("reopens at the first failure after the cooldown", async () => {
    const clock = fakeClock();
    const { fetch, calls } = scriptedFetch([{ status: 500 }]);
    const sdk = client(fetch, clock, { circuitBreaker: { failureThreshold: 2, cooldownMs: 1000 } });

    await sdk.rank(request, { fallback });
    await sdk.rank(request, { fallback });
    clock.t += 1000;
    await sdk.rank(request, { fallback });

    assert.equal(calls.length, 3);
    assert.equal(sdk.circuit, "open");
    assert.equal((await sdk.rank(request, { fallback })).fallback.reason, "circuit_open");
  });

  it("makes event delivery wait out an open circuit instead of sending", async () => {
    const clock = fakeClock();
    const { fetch, calls } = scriptedFetch([{ status: 503 }, { status: 503 }, accepted]);
    const sdk = client(fetch, clock, { circuitBreaker: { failureThreshold: 2, cooldownMs: 7000 } });

    await sdk.rank(request, { fallback });
    await sdk.rank(request, { fallback });
    sdk.track(impression());
    const result = await sdk.flush();

    assert.deepEqual(clock.slept, [7000], "waited for the cooldown");
    assert.equal(calls.length, 3, "two rank calls, then one events request after the cooldown");
    assert.equal(result.delivered, 1);
    assert.equal(sdk.circuit, "closed");
  });

  it("without a fallback, an open circuit throws KaleidoUnavailableError without a request", async () => {
    const clock = fakeClock();
    const { fetch, calls } = scriptedFetch([{ status: 502 }]);
    const sdk = client(fetch, clock, { circuitBreaker: { failureThreshold: 1 } });

    await assert.rejects(sdk.rank(request), { name: "KaleidoUnavailableError", reason: "server_error" });
    await assert.rejects(sdk.rank(request), { name: "KaleidoUnavailableError", reason: "circuit_open" });
    assert.equal(calls.length, 1);
  });
});
