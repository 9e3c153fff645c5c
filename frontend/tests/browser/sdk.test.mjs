/**
 * The SDK in a browser (Debian's Chromium via playwright-core): a web front end loads the built ES
 * module, ranks a placement through the real Django server, renders the top item, tracks an
 * impression and a click, and closes; every event is stored exactly once.
 *
 * The page and the API share one origin: a small Node server serves the SDK's dist/ and passes
 * /api/ through to Django, as a BFF or a CDN would in front of both.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { launchBrowser } from "../support/browser.mjs";
import { DjangoServer } from "../support/django.mjs";
import { startFrontOrigin } from "../support/front_origin.mjs";

const placement = "browser-home-banner";
const variantsCsv = [
  "variant_key,default,headline,tag:button_color,tag:appeal",
  "red-benefit,1,Earn 3% on savings,red,benefit",
  "blue-proof,0,12000 people joined today,blue,social_proof",
].join("\n");

describe("the SDK in Chromium", { timeout: 180_000 }, () => {
  const django = new DjangoServer("sdk-browser");
  let apiKey;
  let front;
  let browser;

  before(async () => {
    await django.migrate();
    const csv = django.writeFile("variants.csv", `${variantsCsv}\n`);
    await django.manage(["import_variants", csv, "--placement", placement, "--create-placement"]);
    apiKey = await django.createApiKey("rank,events");
    await django.start();
    front = await startFrontOrigin(django.url);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await front?.close();
    await django.stop();
  });

  it("ranks, renders, tracks and delivers every event exactly once", async () => {
    const page = await browser.context.newPage();
    await page.goto(front.url);

    const seen = await page.evaluate(async ({ apiKey, placement }) => {
      const { KaleidoClient, renderItem } = await import("/sdk/index.js");
      const client = new KaleidoClient({ baseUrl: location.origin, apiKey, fatigue: false, flushIntervalMs: 60_000 });
      const result = await client.rank({ placement, user: { id: "browser-user", features: { age: 29 } }, k: 2 });
      const top = result.items[0];
      document.getElementById("slot").append(renderItem(top));
      const ids = [
        client.track({ type: "impression", decision_id: result.decision_id, variant_id: top.variant_id, user_id: "browser-user", placement, position: 1 }),
        client.track({ type: "click", decision_id: result.decision_id, variant_id: top.variant_id, user_id: "browser-user", placement, position: 1 }),
      ];
      const outcome = await client.close({ timeoutMs: 10_000 });
      return { fallback: result.fallback ?? null, decision: result.decision_id, items: result.items.length, ids,
               delivered: outcome.delivered, undelivered: outcome.undelivered.length,
               rendered: document.getElementById("slot").textContent };
    }, { apiKey, placement });

    assert.equal(seen.fallback, null, "the real server answered the browser");
    assert.equal(seen.items, 2);
    assert.equal(seen.undelivered, 0);
    assert.ok(seen.rendered.length > 0, "the top item was rendered into the page");
    const stored = await django.shellJson(
      "import json; from analytics.models import Event; " +
        "print(json.dumps([[e.event_id, str(e.decision_id)] for e in Event.objects.filter(user_id='browser-user')]))",
    );
    assert.deepEqual(stored.map(([id]) => id).sort(), [...seen.ids].sort(), "each event stored once");
    assert.ok(stored.every(([, decision]) => decision === seen.decision));
    await page.close();
  });
});
