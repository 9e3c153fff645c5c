/**
 * The analysts' dashboard in a real browser (Debian's Chromium via playwright-core) against the
 * real Django server on a small seeded data set: an analyst logs in, opens every page on a laptop
 * and on a phone, in English and Chinese, and sees charts drawn and the same numbers the API gives.
 * Screenshots go to test-artifacts/dashboard/.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { launchBrowser, logIn } from "../support/browser.mjs";
import { DjangoServer, repoRoot } from "../support/django.mjs";

const ARTIFACTS = path.join(repoRoot, "test-artifacts", "dashboard");
const PASSWORD = "a-long-test-password-42";
const PAGES = ["experiments", "attribution", "variants", "models"];

const en = {
  int: new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }),
  pct: new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 }),
  lift: new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" }),
  num3: new Intl.NumberFormat("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 }),
};

/** Every chart container holds an SVG with drawn shapes and a real size. */
async function assertChartsDrew(page, minCharts) {
  const charts = await page.$$eval("[data-testid^=chart-]", (els) =>
    els.map((el) => {
      const svg = el.querySelector("svg");
      const box = svg?.getBoundingClientRect();
      return {
        id: el.dataset.testid,
        shapes: svg ? svg.querySelectorAll("path, rect, line, circle, polyline").length : 0,
        width: box?.width ?? 0,
        height: box?.height ?? 0,
      };
    }),
  );
  assert.ok(charts.length >= minCharts, `expected at least ${minCharts} charts, found ${charts.map((c) => c.id)}`);
  for (const chart of charts) {
    assert.ok(chart.shapes > 5, `${chart.id} drew ${chart.shapes} shapes`);
    assert.ok(chart.width > 100 && chart.height > 100, `${chart.id} is ${chart.width}×${chart.height}`);
  }
  return charts.map((c) => c.id);
}

async function openPage(page, baseUrl, name, query = "") {
  await page.goto(`${baseUrl}/dashboard/${name}/${query}`);
  await page.waitForSelector("main[data-ready=true]", { timeout: 30_000 });
  await page.waitForFunction(() => !document.querySelector("[data-state=loading]"), null, { timeout: 30_000 });
}

async function getJson(page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return { status: r.status, body: await r.json() };
  }, url);
}

async function cellText(page, selector) {
  return (await page.textContent(selector))?.trim();
}

describe("analyst dashboard", { timeout: 240_000 }, () => {
  const server = new DjangoServer("browser");
  let browser;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await server.migrate();
    server.env.SEED_DIR = server.dir;
    server.env.SEED_USERS = process.env.KALEIDO_BROWSER_SEED_USERS ?? "600";
    await server.manage(["shell", "-c", "exec(open('frontend/tests/support/seed_dashboard.py', encoding='utf-8').read())"]);
    await server.createStaffUser("lead", PASSWORD, { roles: ["operators"] });
    await server.createStaffUser("analyst", PASSWORD, { roles: ["analysts"] });
    await server.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server.stop();
  });

  it("sends a visitor who is not logged in to the admin login", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/dashboard/`);
    const url = new URL(page.url());
    assert.equal(url.pathname, "/admin/login/");
    assert.equal(url.searchParams.get("next"), "/dashboard/");
    await page.close();
  });

  it("shows a laptop user every page with charts drawn and the API's numbers", async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.addInitScript(() => localStorage.setItem("kaleido.dashboard.lang", "en"));
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await browser.context.clearCookies();
    await logIn(page, server.url, "lead", PASSWORD);

    // Experiments: the bucket table equals the report, the CTR and daily charts drew.
    await openPage(page, server.url, "experiments");
    const report = (await getJson(page, "/api/v1/experiments/home-ab/report")).body;
    for (const [bucket, row] of Object.entries(report.buckets)) {
      const base = `[data-testid=bucket-table] tr[data-bucket=${bucket}]`;
      assert.equal(await cellText(page, `${base} [data-field=users]`), en.int.format(row.users), `${bucket} users`);
      assert.equal(await cellText(page, `${base} [data-field=impressions]`), en.int.format(row.impressions), `${bucket} impressions`);
      assert.equal(await cellText(page, `${base} [data-field=clicks]`), en.int.format(row.clicks), `${bucket} clicks`);
      assert.equal(await cellText(page, `${base} [data-field=ctr]`), en.pct.format(row.ctr), `${bucket} ctr`);
      if (row.lift_vs_control) {
        assert.equal(await cellText(page, `${base} [data-field=lift]`), en.lift.format(row.lift_vs_control.relative), `${bucket} lift`);
      }
    }
    assert.ok(report.buckets.model.impressions > 0 && report.buckets.control.impressions > 0);
    const srmShown = await page.$(report.srm_flag ? "[data-testid=srm-warning]" : "[data-testid=srm-ok]");
    assert.ok(srmShown, "the SRM verdict matches the report");
    assert.deepEqual(await assertChartsDrew(page, 2), ["chart-ctr", "chart-daily"]);
    await page.screenshot({ path: path.join(ARTIFACTS, "experiments-laptop-en.png"), fullPage: true });

    // Attribution: heatmap cells equal the grid API; the metric switch shows normalized preference.
    await openPage(page, server.url, "attribution", "?placement=home-banner&segment=income_band&tag_group=appeal");
    const grid = (await getJson(page, "/api/v1/placements/home-banner/attribution?segment=income_band&tag_group=appeal")).body;
    assert.ok(grid.cells.length > 0, "the grid has cells");
    for (const cell of grid.cells) {
      const td = `[data-testid=heatmap-table] td[data-segment="${cell.segment_value}"][data-tag="${cell.tag_value}"]`;
      assert.equal(await page.$eval(td, (el) => el.textContent.trim()), en.pct.format(cell.ctr));
    }
    const findings = await page.$$("[data-testid=findings] li");
    assert.equal(findings.length, grid.findings.length, "every finding of the API is listed");
    await page.click("fieldset[data-name=metric] label:has-text('Normalized preference')");
    await page.waitForSelector("[data-testid=heatmap-table][data-metric=preference]", { state: "attached" });
    await page.waitForFunction(() => !document.querySelector("[data-state=loading]"));
    const first = grid.cells.find((c) => c.normalized_preference !== null);
    const prefText = await page.$eval(`[data-testid=heatmap-table] td[data-segment="${first.segment_value}"][data-tag="${first.tag_value}"]`, (el) => el.textContent.trim());
    assert.equal(prefText, `${first.normalized_preference.toFixed(2)}×`);
    // EBM importances: fitted on first request (eagerly here), then drawn with the API's top term first.
    await page.waitForSelector("[data-testid=chart-importances][data-chart-ready=true]", { timeout: 90_000 });
    const explain = (await getJson(page, "/api/v1/placements/home-banner/explain")).body;
    assert.equal(explain.status, "ready");
    const topTerm = [...explain.terms].sort((a, b) => b.importance - a.importance)[0];
    const labels = await page.$$eval("[data-testid=chart-importances] svg text", (els) => els.map((el) => el.textContent));
    assert.ok(labels.includes(en.num3.format(topTerm.importance)), `the top importance ${topTerm.importance} is labelled`);
    assert.deepEqual((await assertChartsDrew(page, 2)).sort(), ["chart-heatmap", "chart-importances"]);
    await page.screenshot({ path: path.join(ARTIFACTS, "attribution-laptop-en.png"), fullPage: true });

    // Variant gallery: each tile's numbers equal the gallery API; a tag filter narrows the list.
    await openPage(page, server.url, "variants", "?placement=home-banner");
    const gallery = (await getJson(page, "/dashboard/api/variants?placement=home-banner")).body;
    assert.equal(await page.$$eval("[data-testid=gallery] > li", (els) => els.length), gallery.variants.length);
    for (const v of gallery.variants) {
      const tile = `[data-testid=gallery] li[data-variant-id="${v.id}"]`;
      assert.equal(await cellText(page, `${tile} [data-field=impressions]`), en.int.format(v.impressions));
      assert.equal(await cellText(page, `${tile} [data-field=clicks]`), en.int.format(v.clicks));
      assert.equal(await cellText(page, `${tile} [data-field=ctr]`), v.ctr === null ? "—" : en.pct.format(v.ctr));
    }
    const chinese = await page.$eval("[data-variant-key=gold-authority] .tile__headline", (el) => ({ text: el.textContent, lang: el.lang }));
    assert.deepEqual(chinese, { text: "今天已有 12,000 人购买", lang: "zh" });
    await page.screenshot({ path: path.join(ARTIFACTS, "variants-laptop-en.png"), fullPage: true });
    await page.selectOption("select[name=tag]", "button_color=blue");
    await page.waitForFunction(() => new URLSearchParams(location.search).get("tag") === "button_color=blue");
    await page.waitForSelector("main[data-ready=true] [data-testid=gallery]");
    const blueKeys = await page.$$eval("[data-testid=gallery] > li", (els) => els.map((el) => el.dataset.variantKey).sort());
    assert.deepEqual(blueKeys, ["blue-proof", "blue-urgency"]);
    await page.fill("#variant-search", "no such creative");
    await page.press("#variant-search", "Enter");
    await page.waitForSelector("main[data-ready=true] [data-state=empty]");

    // Model registry: AUCs equal the registry's; the lead activates the older version, then rolls back.
    await openPage(page, server.url, "models", "?placement=home-banner");
    const models = (await getJson(page, "/dashboard/api/models?placement=home-banner")).body;
    assert.equal(models.versions.length, 2);
    for (const m of models.versions) {
      assert.equal(await cellText(page, `[data-testid=models-table] tr[data-version="${m.version}"] [data-field=auc]`), en.num3.format(m.auc));
    }
    assert.ok((await assertChartsDrew(page, 1)).includes("chart-auc"));
    await page.screenshot({ path: path.join(ARTIFACTS, "models-laptop-en.png"), fullPage: true });
    const inactive = models.versions.find((m) => !m.is_active);
    page.once("dialog", (d) => d.accept());
    await page.click(`tr[data-version="${inactive.version}"] [data-testid=activate]`);
    await page.waitForSelector(`[data-testid=model-done]`);
    await page.waitForSelector(`tr[data-version="${inactive.version}"] [data-testid=active-badge]`);
    const afterActivate = (await getJson(page, "/dashboard/api/models?placement=home-banner")).body;
    assert.equal(afterActivate.versions.find((m) => m.is_active).version, inactive.version);
    page.once("dialog", (d) => d.accept());
    await page.click("[data-testid=rollback]");
    await page.waitForFunction((v) => new URLSearchParams(location.search).get("done") !== v, inactive.version);
    const afterRollback = (await getJson(page, "/dashboard/api/models?placement=home-banner")).body;
    assert.notEqual(afterRollback.versions.find((m) => m.is_active).version, inactive.version);

    assert.deepEqual(errors, [], "no script errors");
    await page.close();
  });

  it("reads well on a phone in Chinese, and an analyst cannot change models", async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.addInitScript(() => localStorage.setItem("kaleido.dashboard.lang", "zh"));
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // The report is slow on purpose so the loading state can be seen.
    await page.route("**/api/v1/experiments/*/report", async (route) => {
      await new Promise((r) => setTimeout(r, 400));
      await route.continue();
    });
    await browser.context.clearCookies();
    await logIn(page, server.url, "analyst", PASSWORD);
    await page.goto(`${server.url}/dashboard/experiments/`);
    const loadingText = await page.textContent("[data-state=loading]", { timeout: 10_000 });
    assert.match(loadingText, /加载中/);

    for (const name of PAGES) {
      await openPage(page, server.url, name);
      assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${name} scrolls sideways by ${overflow}px on a phone`);
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-phone-zh.png`), fullPage: true });
    }
    assert.equal(await page.textContent("nav a[data-page=models]"), "模型管理");

    // The experiments page in Chinese still shows the report's numbers, formatted the same way.
    await openPage(page, server.url, "experiments");
    const report = (await getJson(page, "/api/v1/experiments/home-ab/report")).body;
    const zhPct = new Intl.NumberFormat("zh-CN", { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });
    assert.equal(await cellText(page, "tr[data-bucket=model] [data-field=ctr]"), zhPct.format(report.buckets.model.ctr));
    await assertChartsDrew(page, 2);

    await openPage(page, server.url, "models");
    assert.ok(await page.$("[data-testid=read-only]"), "the analyst is told the page is read only");
    assert.equal(await page.$("[data-testid=activate]"), null);
    assert.equal(await page.$("[data-testid=rollback]"), null);
    const denied = await page.evaluate(async () => {
      const config = JSON.parse(document.getElementById("kaleido-config").textContent);
      const r = await fetch("/dashboard/api/models/1/activate", { method: "POST", headers: { "X-CSRFToken": config.csrfToken } });
      return r.status;
    });
    assert.equal(denied, 403);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
