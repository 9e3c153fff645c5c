import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { KaleidoClient } from "../../dist/index.js";
import { impression, scriptedFetch } from "./helpers.mjs";

/** A minimal browser: document with visibilityState, window events, navigator.sendBeacon. */
function fakeBrowser() {
  const listeners = { document: {}, window: {} };
  const beacons = [];
  const on = (target) => (type, fn) => ((listeners[target][type] ??= []).push(fn));
  const off = (target) => (type, fn) => (listeners[target][type] = (listeners[target][type] ?? []).filter((f) => f !== fn));
  const document = { visibilityState: "visible", addEventListener: on("document"), removeEventListener: off("document") };
  const window = { addEventListener: on("window"), removeEventListener: off("window") };
  const navigator = { sendBeacon: (url, blob) => (beacons.push({ url, blob }), true) };
  const fire = (target, type) => (listeners[target][type] ?? []).forEach((fn) => fn());
  return { document, window, navigator, beacons, fire, listeners };
}

describe("page hide in a browser", () => {
  let browser;
  const saved = {};
  before(() => {
    browser = fakeBrowser();
    for (const name of ["document", "window", "navigator"]) {
      saved[name] = Object.getOwnPropertyDescriptor(globalThis, name);
      Object.defineProperty(globalThis, name, { value: browser[name], configurable: true, writable: true });
    }
  });
  after(() => {
    for (const name of ["document", "window", "navigator"]) {
      if (saved[name]) Object.defineProperty(globalThis, name, saved[name]);
      else delete globalThis[name];
    }
  });

  it("sends queued events with navigator.sendBeacon when the page becomes hidden", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 202, body: { accepted: 0, duplicates: 0, rejected: [] } }]);
    const sdk = new KaleidoClient({ baseUrl: "/kaleido", fetch, flushIntervalMs: 60_000, fatigue: false });
    const ids = [sdk.track(impression()), sdk.track(impression({ type: "click" }))];

    browser.document.visibilityState = "hidden";
    browser.fire("document", "visibilitychange");

    assert.equal(browser.beacons.length, 1);
    assert.equal(browser.beacons[0].url, "/kaleido/api/v1/events");
    const payload = JSON.parse(await browser.beacons[0].blob.text());
    assert.deepEqual(payload.events.map((e) => e.event_id), ids);
    assert.equal(browser.beacons[0].blob.type, "application/json");
    assert.equal(sdk.queued, 0);
    await sdk.close();
    assert.equal(calls.length, 0, "beaconed events are not sent twice");
    assert.equal((browser.listeners.document.visibilitychange ?? []).length, 0, "close() removes its listeners");
  });

  it("uses a keepalive fetch instead when an API key header must go along", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 202, body: { accepted: 1, duplicates: 0, rejected: [] } }]);
    const sdk = new KaleidoClient({ baseUrl: "http://k.test", apiKey: "k", fetch, flushIntervalMs: 60_000, fatigue: false });
    const before = browser.beacons.length;
    sdk.track(impression());

    browser.fire("window", "pagehide");

    assert.equal(browser.beacons.length, before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].init.keepalive, true);
    assert.equal(calls[0].headers.Authorization, "Api-Key k");
    await sdk.close();
  });
});
