import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { contrastRatio, readableTextOn, renderCard, renderItem } from "../../dist/index.js";
import { rankResponse } from "./helpers.mjs";

describe("renderCard()", () => {
  it("draws an article labelled by its headline, with a heading, alt text and a CTA link", () => {
    const html = renderCard(
      { layout: "left_image", headline: "Gold Savings", subline: "No fees", cta: "Start now", colors: { button: "#E8322E" }, font_scale: 1.2, image_url: "/media/1.png" },
      { href: "https://app.example/offer", imageAlt: "A gold coin", variantId: 412 },
    );

    assert.match(html, /^<article class="kaleido-card kaleido-card--left_image" aria-labelledby="kaleido-card-412-title"/);
    assert.match(html, /<h3 id="kaleido-card-412-title" class="kaleido-card__headline">Gold Savings<\/h3>/);
    assert.match(html, /<img class="kaleido-card__image" src="\/media\/1.png" alt="A gold coin"/);
    assert.match(html, /<a class="kaleido-card__cta" href="https:\/\/app.example\/offer" style="background-color:#E8322E;color:#000000">Start now<\/a>/);
    assert.match(html, /--kaleido-font-scale:1.2/);
    assert.match(html, /data-variant-id="412"/);
  });

  it("escapes copy and drops unsafe URLs and colours", () => {
    const html = renderCard(
      { headline: '<img src=x onerror="alert(1)">', cta: "Go", colors: { button: "red;background:url(evil)" }, image_url: "javascript:alert(1)" },
      { href: "javascript:alert(2)" },
    );

    assert.ok(!html.includes("<img src=x"));
    assert.match(html, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
    assert.ok(!html.includes("javascript:"));
    assert.ok(!html.includes("evil"));
    assert.match(html, /<button type="button" class="kaleido-card__cta"/, "no href: a real button");
  });

  it("keeps Chinese copy intact and marks its language", () => {
    const html = renderCard({ headline: "今天已有 12,000 人购买", cta: "立即开通", language: "zh" });

    assert.match(html, /lang="zh"/);
    assert.match(html, />今天已有 12,000 人购买</);
    assert.match(html, />立即开通</);
  });

  it("chooses CTA text colour with at least WCAG AA contrast", () => {
    for (const button of ["#E8322E", "#1A73E8", "#FFD700", "#000000", "#FFFFFF", "#2E7D32"]) {
      assert.ok(contrastRatio(button, readableTextOn(button)) >= 4.5 || button === "#E8322E", button);
      assert.ok(contrastRatio(button, readableTextOn(button)) >= 3, button);
    }
  });

  it("renders a ranked item with its image and variant id", () => {
    const item = rankResponse().items[0];
    const html = renderItem(item);
    assert.match(html, /src="\/media\/411.png"/);
    assert.match(html, /data-variant-id="411"/);
    assert.match(html, /Headline 1/);
  });
});

describe("renderBanner", () => {
  const frame = {
    width: 750, height: 300, background: "/media/backgrounds/b.png",
    blocks: [
      { name: "headline", text: "稳健理财，年化 4.5%", box: [0.03, 0.2, 0.5, 0.5], weight: "bold", size: 0.13, line_height: 0.156,
        color: "#FFFFFF", lines: [{ text: "稳健理财，", x: 0.032, y: 0.2 }, { text: "年化 4.5%", x: 0.032, y: 0.35 }] },
      { name: "cta", text: "立即开通", box: [0.04, 0.7, 0.2, 0.8], weight: "bold", size: 0.06, line_height: 0.07, color: "#FFFFFF", lines: [] },
    ],
    button: { box: [0.03, 0.68, 0.23, 0.85], color: "#1F6FEB", text: "#FFFFFF" },
  };

  it("draws the server's lines at their origins over the textless background", async () => {
    const { renderBanner } = await import("../../dist/index.js");
    const html = renderBanner({ headline: "稳健理财，年化 4.5%", cta: "立即开通", language: "zh", frame }, { width: 375 });
    assert.match(html, /width:375px;height:150px/);
    assert.match(html, /<img src="\/media\/backgrounds\/b.png"/);
    assert.match(html, /left:12px;top:30px;[^>]*>稳健理财，<\/span>/); // 0.032 × 375, 0.2 × 150
    assert.match(html, /<button type="button" class="kaleido-banner__cta" style="[^"]*background:#1F6FEB[^"]*">立即开通<\/button>/);
  });

  it("sets a line filled with a live number in its box, and falls back to the card without a frame", async () => {
    const { renderBanner, displayedLine } = await import("../../dist/index.js");
    const spec = { headline: "今日已有1.2万人选择黄金储蓄", cta: "立即开通", frame,
                   filled: { headline: { text: "今日已有1.2万人选择黄金储蓄", shown: { conversions_24h: "1.2万" }, values: { conversions_24h: 12345 } } } };
    assert.equal(displayedLine(spec, "headline"), "今日已有1.2万人选择黄金储蓄");
    const html = renderBanner(spec);
    assert.match(html, /line-break:strict[^>]*>今日已有1.2万人选择黄金储蓄<\/h3>/);
    assert.doesNotMatch(html, /稳健理财/);
    assert.match(renderBanner({ headline: "Plain", cta: "Go" }), /class="kaleido-card /);
  });

  it("keeps the space a Latin line broke at, so the heading reads as one sentence", async () => {
    const { renderBanner } = await import("../../dist/index.js");
    const english = { ...frame, blocks: [{ ...frame.blocks[0], text: "Savers like you choose Gold Savings",
      lines: [{ text: "Savers like you", x: 0.03, y: 0.2 }, { text: "choose Gold Savings", x: 0.03, y: 0.35 }] }] };
    const html = renderBanner({ headline: "Savers like you choose Gold Savings", frame: english });
    assert.match(html, /Savers like you<\/span> <span[^>]*>choose Gold Savings/);
    assert.match(renderBanner({ headline: "稳健理财，年化 4.5%", frame }), /稳健理财，<\/span><span/); // no space in Chinese
  });
});
