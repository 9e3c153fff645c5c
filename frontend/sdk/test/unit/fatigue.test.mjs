import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FatigueTracker, KaleidoClient, LocalStorageFatigueStore, MemoryFatigueStore } from "../../dist/index.js";
import { accepted, impression, noSleep, rankResponse, scriptedFetch } from "./helpers.mjs";

const placement = "wealth-home-banner";

describe("fatigue re-rank", () => {
  it("moves a variant the user saw 3 times without clicking behind the others", async () => {
    const { fetch } = scriptedFetch([(call) => (call.url.endsWith("/rank") ? Response.json(rankResponse()) : accepted(call))]);
    const sdk = new KaleidoClient({ baseUrl: "http://k.test", fetch, sleep: noSleep, fatigue: { maxImpressions: 3, store: new MemoryFatigueStore() } });
    const request = { placement, user: { id: "u-1" }, k: 3 };

    const first = await sdk.rank(request);
    assert.equal(first.items[0].variant_id, 411);
    for (let i = 0; i < 3; i++) sdk.track(impression({ variant_id: 411 }));
    const after = await sdk.rank(request);

    assert.deepEqual(after.items.map((i) => i.variant_id), [412, 413, 411]);
    assert.deepEqual(after.items.map((i) => i.rank), [1, 2, 3]);
    assert.deepEqual(after.items.map((i) => i.server_rank), [2, 3, 1]);
    assert.equal(after.items[2].fatigued, true);

    // Another user is not affected.
    const other = await sdk.rank({ ...request, user: { id: "u-2" } });
    assert.equal(other.items[0].variant_id, 411);
    await sdk.close();
  });

  it("forgets the impressions once the user clicks the variant", () => {
    const fatigue = new FatigueTracker({ maxImpressions: 2, store: new MemoryFatigueStore() });
    fatigue.recordImpression("u", placement, 7);
    fatigue.recordImpression("u", placement, 7);
    assert.equal(fatigue.isFatigued("u", placement, 7), true);

    fatigue.recordClick("u", placement, 7);

    assert.equal(fatigue.isFatigued("u", placement, 7), false);
    assert.equal(fatigue.impressionsWithoutClick("u", placement, 7), 0);
  });

  it("only counts impressions inside the window", () => {
    let now = 1_000_000;
    const fatigue = new FatigueTracker({ maxImpressions: 2, windowMs: 1000, store: new MemoryFatigueStore(), now: () => now });
    fatigue.recordImpression("u", placement, 7);
    now += 600;
    fatigue.recordImpression("u", placement, 7);
    assert.equal(fatigue.isFatigued("u", placement, 7), true);

    now += 500; // the first impression is now older than the window

    assert.equal(fatigue.impressionsWithoutClick("u", placement, 7), 1);
    assert.equal(fatigue.isFatigued("u", placement, 7), false);
  });

  it("keeps the server order when every candidate is fatigued", () => {
    const fatigue = new FatigueTracker({ maxImpressions: 1, store: new MemoryFatigueStore() });
    const items = rankResponse().items;
    for (const item of items) fatigue.recordImpression("u", placement, item.variant_id);

    const ranked = fatigue.rerank("u", placement, items);

    assert.deepEqual(ranked.map((i) => i.variant_id), [411, 412, 413]);
    assert.ok(ranked.every((i) => i.fatigued));
  });

  it("remembers across page loads in localStorage", () => {
    const data = new Map();
    const storage = {
      getItem: (k) => (data.has(k) ? data.get(k) : null),
      setItem: (k, v) => data.set(k, String(v)),
      removeItem: (k) => data.delete(k),
    };
    const pageOne = new FatigueTracker({ maxImpressions: 2, store: new LocalStorageFatigueStore(storage) });
    pageOne.recordImpression("u", placement, 9);
    pageOne.recordImpression("u", placement, 9);

    const pageTwo = new FatigueTracker({ maxImpressions: 2, store: new LocalStorageFatigueStore(storage) });

    assert.equal(pageTwo.isFatigued("u", placement, 9), true);
    assert.ok([...data.keys()].every((k) => k.startsWith("kaleido:fatigue:")));
  });

  it("keeps memory bounded in a long-running BFF", () => {
    const store = new MemoryFatigueStore(100);
    const fatigue = new FatigueTracker({ store });
    for (let u = 0; u < 500; u++) fatigue.recordImpression(`u${u}`, placement, 1);
    assert.equal(store.size, 100);
  });
});
