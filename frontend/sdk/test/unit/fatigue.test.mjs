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

  it("never demotes a variant the operator pinned, however often it was ignored", async () => {
    const answer = rankResponse();
    answer.items[0].pinned = true;
    const { fetch } = scriptedFetch([(call) => (call.url.endsWith("/rank") ? Response.json(answer) : accepted(call))]);
    const sdk = new KaleidoClient({ baseUrl: "http://k.test", fetch, sleep: noSleep, fatigue: { maxImpressions: 2, store: new MemoryFatigueStore() } });
    const request = { placement, user: { id: "u-1" }, k: 3 };
    for (let i = 0; i < 3; i++) {
      sdk.track(impression({ variant_id: 411 }));
      sdk.track(impression({ variant_id: 412 }));
    }

    const after = await sdk.rank(request);

    assert.deepEqual(after.items.map((i) => i.variant_id), [411, 413, 412], "the pinned one stays first; 412 moves back");
    assert.deepEqual(after.items.map((i) => i.fatigued), [false, false, true]);
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

  function fatiguedClient(bucket, fatigueOptions = {}) {
    const { fetch, calls } = scriptedFetch([(call) => (call.url.endsWith("/rank") ? Response.json(rankResponse({ bucket })) : accepted(call))]);
    const sdk = new KaleidoClient({
      baseUrl: "http://k.test",
      fetch,
      sleep: noSleep,
      flushIntervalMs: 60_000,
      fatigue: { maxImpressions: 2, store: new MemoryFatigueStore(), ...fatigueOptions },
    });
    for (let i = 0; i < 2; i++) sdk.track(impression({ variant_id: 411, user_id: "u-1" }));
    return { sdk, calls };
  }

  it("leaves the control and random arms in the server's order", async () => {
    for (const bucket of ["control", "random"]) {
      const { sdk } = fatiguedClient(bucket);
      const result = await sdk.rank({ placement, user: { id: "u-1" }, k: 3 });
      assert.deepEqual(result.items.map((i) => i.variant_id), [411, 412, 413], bucket);
      assert.equal(result.reranked, false);
      assert.ok(result.items.every((i) => !i.fatigued && i.rank === i.server_rank));
      await sdk.close();
    }
  });

  it("re-ranks other buckets when told to", async () => {
    const { sdk } = fatiguedClient("random", { buckets: ["model", "random"] });
    const result = await sdk.rank({ placement, user: { id: "u-1" }, k: 3 });
    assert.deepEqual(result.items.map((i) => i.variant_id), [412, 413, 411]);
    await sdk.close();
  });

  it("marks the impressions of a re-ranked decision with the server's position", async () => {
    const { sdk, calls } = fatiguedClient("model");
    const result = await sdk.rank({ placement, user: { id: "u-1" }, k: 3 });
    assert.equal(result.reranked, true);

    for (const item of result.items) {
      sdk.track(impression({ decision_id: result.decision_id, variant_id: item.variant_id, user_id: "u-1", position: item.rank }));
    }
    sdk.track(impression({ type: "click", decision_id: result.decision_id, variant_id: 412, user_id: "u-1" }));
    sdk.track(impression({ decision_id: "6f1c2d7e-0000-4000-8000-0000000000ff", variant_id: 412, user_id: "u-2" }));
    await sdk.close();

    const sent = calls.filter((c) => c.url.endsWith("/events")).flatMap((c) => c.body.events).slice(2);
    assert.deepEqual(
      sent.map((e) => [e.type, e.variant_id, e.position, e.rerank, e.server_position, e.rerank_probability]),
      [
        ["impression", 412, 1, "fatigue", 2, 1],
        ["impression", 413, 2, "fatigue", 3, 1],
        ["impression", 411, 3, "fatigue", 1, 1],
        ["click", 412, 1, undefined, undefined, undefined],
        ["impression", 412, 1, undefined, undefined, undefined],
      ],
    );
  });

  it("never moves a pinned variant down and keeps the server's order within fresh and within fatigued ones", () => {
    // Many random slates: pinned anywhere, any impressions; the re-rank is the stable partition it claims.
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let trial = 0; trial < 300; trial++) {
      const fatigue = new FatigueTracker({ maxImpressions: 2, store: new MemoryFatigueStore() });
      const k = 2 + Math.floor(random() * 5);
      const items = Array.from({ length: k }, (_, i) => ({
        variant_id: 100 + i, variant_key: `v${i}`, rank: i + 1, score: 0.1, propensity: 0.5, tags: {},
        image_url: "", render: {}, pinned: random() < 0.3,
      }));
      for (const item of items) {
        const seen = Math.floor(random() * 4);
        for (let n = 0; n < seen; n++) fatigue.recordImpression("u", placement, item.variant_id);
      }

      const shown = fatigue.rerank("u", placement, items);

      assert.deepEqual(shown.map((i) => i.rank), items.map((_, i) => i + 1));
      for (const item of shown) {
        assert.equal(item.fatigued, !item.pinned && fatigue.isFatigued("u", placement, item.variant_id));
        if (item.pinned) assert.ok(item.rank <= item.server_rank, `pinned ${item.variant_id} moved down in trial ${trial}`);
      }
      const fresh = shown.filter((i) => !i.fatigued);
      const tired = shown.filter((i) => i.fatigued);
      assert.deepEqual(shown, [...fresh, ...tired]);
      for (const group of [fresh, tired]) {
        assert.deepEqual(group.map((i) => i.server_rank), [...group.map((i) => i.server_rank)].sort((a, b) => a - b));
      }
    }
  });
});
