import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { KaleidoClient } from "../../dist/index.js";
import { accepted, impression, noSleep, rankResponse, scriptedFetch } from "./helpers.mjs";

const placement = "wealth-home-banner";
const request = { placement, user: { id: "u-1" }, k: 3 };

/** An in-memory stand-in for Redis: every call goes through a promise, and calls are counted. */
function asyncStore({ getMany = true } = {}) {
  const data = new Map();
  const calls = { get: 0, getMany: 0, set: 0, delete: 0 };
  const store = {
    data,
    calls,
    get: async (key) => (calls.get++, data.get(key)),
    set: async (key, times) => (calls.set++, void data.set(key, times)),
    delete: async (key) => (calls.delete++, void data.delete(key)),
  };
  if (getMany) store.getMany = async (keys) => (calls.getMany++, keys.map((k) => data.get(k)));
  return store;
}

function client(store, options = {}) {
  const { fetch } = scriptedFetch([(call) => (call.url.endsWith("/rank") ? Response.json(rankResponse()) : accepted(call))]);
  const lines = [];
  const logger = { warn: (message, fields) => lines.push({ message, fields }) };
  const sdk = new KaleidoClient({ baseUrl: "http://k.test", fetch, sleep: noSleep, flushIntervalMs: 60_000, logger, fatigue: { maxImpressions: 2, store, ...options } });
  return { sdk, lines };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("asynchronous fatigue store", () => {
  it("re-ranks from a store behind I/O, reading the slate in one getMany", async () => {
    const store = asyncStore();
    const { sdk } = client(store);

    sdk.track(impression({ variant_id: 411 }));
    sdk.track(impression({ variant_id: 411 }));
    await settle();
    const result = await sdk.rank(request);

    assert.deepEqual(result.items.map((i) => i.variant_id), [412, 413, 411]);
    assert.equal(result.reranked, true);
    assert.equal(result.fatigueSkipped, undefined);
    assert.equal(store.calls.getMany, 1);
    assert.equal(store.calls.get, 2, "one read per recorded impression, none for the rank");
    await sdk.close();
  });

  it("reads key by key when the store has no getMany, and a click clears the memory", async () => {
    const store = asyncStore({ getMany: false });
    const { sdk } = client(store);

    sdk.track(impression({ variant_id: 412 }));
    await settle();
    sdk.track(impression({ variant_id: 412 }));
    await settle();
    assert.deepEqual((await sdk.rank(request)).items.map((i) => i.variant_id), [411, 413, 412]);
    sdk.track(impression({ type: "click", variant_id: 412 }));
    await settle();

    assert.deepEqual((await sdk.rank(request)).items.map((i) => i.variant_id), [411, 412, 413]);
    await sdk.close();
  });

  it("serves the server's order when the store does not answer in time", async () => {
    const store = { ...asyncStore(), getMany: () => new Promise(() => undefined) };
    const { sdk } = client(store, { storeTimeoutMs: 20 });

    const result = await sdk.rank(request);

    assert.deepEqual(result.items.map((i) => i.variant_id), [411, 412, 413]);
    assert.equal(result.fatigueSkipped, "timeout");
    assert.equal(result.reranked, false);
    await sdk.close();
  });

  it("serves the server's order when the store fails, and logs the outage once", async () => {
    const down = async () => {
      throw new Error("ECONNREFUSED");
    };
    const { sdk, lines } = client({ get: down, getMany: down, set: down, delete: down });

    const first = await sdk.rank(request);
    const second = await sdk.rank(request);
    sdk.track(impression({ variant_id: 411 }));
    await settle();

    assert.deepEqual([first.fatigueSkipped, second.fatigueSkipped], ["error", "error"]);
    assert.deepEqual(first.items.map((i) => i.variant_id), [411, 412, 413]);
    assert.equal(lines.filter((l) => l.message === "fatigue store failed").length, 1);
    assert.equal(sdk.queued, 1, "the event is tracked all the same");
    await sdk.close();
  });
});
