/**
 * The same template in the front end: a variant composed by the server (its PNG) and the SDK's native
 * drawing of its `render` spec (renderItemBanner, text as real DOM text in Chromium) look alike.
 *
 * Compared perceptually (tests/support/perceptual.mjs): both downscaled 4× to grayscale, the mean absolute
 * difference must stay under MAX_MEAN_DIFFERENCE (3) levels of 255 and at most MAX_FAR_SHARE (3%) of the
 * pixels may differ by more than 32 levels (measured: a mean of about 0.8 (en) and 1.1 (zh), 0.6% and 1.2% far
 * apart; the banner's background alone, without its text, is 6–10 and 5–9%). What is left is font rasterisation (Chromium's hinting and antialiasing
 * against FreeType's in Pillow, sub-pixel glyph positions): the same glyphs at the same places. The test
 * also checks that the metric tells a banner without its text apart from the PNG, and that a copy line with
 * a live number is drawn filled from the rank request's context (its static line without a usable value).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { launchBrowser } from "../support/browser.mjs";
import { DjangoServer, repoRoot } from "../support/django.mjs";
import { startFrontOrigin } from "../support/front_origin.mjs";
import { perceptualDifference } from "../support/perceptual.mjs";

const ARTIFACTS = path.join(repoRoot, "test-artifacts", "frontend", "render-parity");
const MAX_MEAN_DIFFERENCE = 3.0;
const MAX_FAR_SHARE = 0.03;

// Two composed variants of one placement (English and Chinese copy, image left and full bleed), via the
// product's own services: a kit, its image, copy and layout, rendered and made live.
const SEED = `
import io, json
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from creative.models import CopyVariant, CreativeKit, ImageMaterial, LayoutTemplate, Placement, StyleVariant, VariantStatus
from creative.services.rendering import variant_render
placement = Placement.objects.create(slug="parity-banner", name="Parity banner", width=750, height=300, surface="banner")
kit = CreativeKit.objects.create(placement=placement, name="Gold", offer_name="Gold Savings Plan")
art = Image.new("RGB", (752, 304), (40, 90, 160))
draw = ImageDraw.Draw(art)
for i in range(0, 752, 8):
    draw.rectangle((i, 0, i + 7, 304), fill=(40 + i // 6, 90 + i // 10, 160))
draw.ellipse((420, 40, 700, 280), fill=(230, 190, 90))
buffer = io.BytesIO(); art.save(buffer, format="PNG")
image = ImageMaterial.objects.create(kit=kit, file=ContentFile(buffer.getvalue(), name="art.png"), review="accepted")
copies = [("Gold Savings Plan: 4.5% a year", "Grow your savings with no fees", "Start saving", "en", "left_image", "#C9A227"),
          ("稳健理财，年化4.5%", "零手续费，随存随取", "立即开通", "zh", "single_image_text", "#1F6FEB"),
          ("{context.savers|floor=500} savers joined this week || Savers like you choose Gold Savings",
           "Grow your savings with no fees", "Join them", "en", "left_image", "#1E9E5A")]
ids = []
for n, (headline, subline, cta, language, kind, button) in enumerate(copies):
    copy = CopyVariant.objects.create(kit=kit, headline=headline, subline=subline, cta=cta, language=language)
    layout = LayoutTemplate.objects.create(kit=kit, name=f"layout {n}", kind=kind, button_color=button,
                                           background_style="solid", background_color="#F6F2E8")
    variant = StyleVariant.objects.create(placement=placement, kit=kit, copy=copy, image=image, layout=layout,
                                          variant_key=f"parity-{n}-{language}")
    variant_render(variant=variant)
    StyleVariant.objects.filter(pk=variant.pk).update(status=VariantStatus.LIVE)
    ids.append(variant.pk)
Placement.objects.filter(pk=placement.pk).update(control_variant_id=ids[0])
print(json.dumps(ids))
`;

describe("a composed variant drawn by the SDK in Chromium", { timeout: 240_000 }, () => {
  const django = new DjangoServer("render-parity");
  let apiKey;
  let front;
  let browser;

  before(async () => {
    await django.migrate();
    await django.shellJson(SEED);
    apiKey = await django.createApiKey("rank");
    await django.start();
    front = await startFrontOrigin(django.url, { passThrough: ["/api/", "/media/"], bodyStyle: "margin:0" });
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await front?.close();
    await django.stop();
  });

  for (const language of ["en", "zh"]) {
    it(`matches the server's PNG within the threshold (${language})`, async () => {
      const page = await browser.context.newPage();
      await page.setViewportSize({ width: 1000, height: 600 });
      await page.goto(front.url);
      const drawn = await page.evaluate(async ({ apiKey, language }) => {
        const { KaleidoClient, renderItemBanner } = await import("/sdk/index.js");
        const client = new KaleidoClient({ baseUrl: location.origin, apiKey, fatigue: false, flushIntervalMs: 60_000 });
        const result = await client.rank({ placement: "parity-banner", user: { id: "parity-user" }, k: 3 });
        const item = result.items.find((it) => it.render.language === language && !it.render.dynamic);
        document.getElementById("slot").innerHTML = renderItemBanner(item);
        await Promise.all([...document.images].map((img) => img.decode()));
        await document.fonts.ready;
        await client.close({ timeoutMs: 1000 });
        return { imageUrl: item.image_url, frame: item.render.frame, text: document.getElementById("slot").innerText };
      }, { apiKey, language });
      assert.ok(drawn.frame, "the render spec carries the composed frame");
      assert.ok(drawn.text.length > 0, "the copy is real text in the page");
      const { width, height } = drawn.frame;
      const shot = await page.locator(".kaleido-banner").screenshot();
      writeFileSync(path.join(ARTIFACTS, `sdk-${language}.png`), shot);
      const sdkUrl = `data:image/png;base64,${shot.toString("base64")}`;
      const serverUrl = new URL(drawn.imageUrl).pathname; // the PNG, through the page's origin
      const backgroundUrl = new URL(drawn.frame.background, front.url).pathname;
      const served = Buffer.from(await (await fetch(new URL(serverUrl, front.url))).arrayBuffer());
      writeFileSync(path.join(ARTIFACTS, `server-${language}.png`), served);

      const diff = await perceptualDifference(page, sdkUrl, serverUrl, { width, height });
      const textless = await perceptualDifference(page, backgroundUrl, serverUrl, { width, height });
      writeFileSync(path.join(ARTIFACTS, `diff-${language}.json`), JSON.stringify({ diff, textless }, null, 2));

      assert.ok(diff.mean <= MAX_MEAN_DIFFERENCE, `mean difference ${diff.mean.toFixed(2)} > ${MAX_MEAN_DIFFERENCE}`);
      assert.ok(diff.farShare <= MAX_FAR_SHARE, `${(100 * diff.farShare).toFixed(2)}% of pixels far apart`);
      // the metric sees text: the background alone is further from the PNG than the SDK's drawing
      assert.ok(textless.mean > 2 * diff.mean, `textless ${textless.mean.toFixed(2)} vs drawn ${diff.mean.toFixed(2)}`);
      await page.close();
    });
  }

  it("draws a live number from the request's context, and the static line without one", async () => {
    const page = await browser.context.newPage();
    await page.goto(front.url);
    const shown = await page.evaluate(async ({ apiKey }) => {
      const { KaleidoClient, renderItemBanner } = await import("/sdk/index.js");
      const client = new KaleidoClient({ baseUrl: location.origin, apiKey, fatigue: false, flushIntervalMs: 60_000 });
      const draw = async (context) => {
        const result = await client.rank({ placement: "parity-banner", user: { id: "parity-user" }, k: 3, context });
        const item = result.items.find((it) => it.render.dynamic);
        const slot = document.getElementById("slot");
        slot.innerHTML = renderItemBanner(item);
        return slot.querySelector(".kaleido-banner__headline").textContent;
      };
      const out = { filled: await draw({ savers: 12345 }), fallback: await draw({}), bad: await draw({ savers: "lots" }) };
      await client.close({ timeoutMs: 1000 });
      return out;
    }, { apiKey });
    assert.equal(shown.filled, "12,000 savers joined this week"); // rounded down, never overstated
    assert.equal(shown.fallback, "Savers like you choose Gold Savings");
    assert.equal(shown.bad, "Savers like you choose Gold Savings");
    await page.close();
  });
});
