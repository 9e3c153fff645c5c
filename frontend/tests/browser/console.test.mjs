/**
 * The operators' console in a real browser (Debian's Chromium via playwright-core) against the real
 * Django server on a fresh SQLite file, as an operator (a staff user in `operators`), following the
 * README's operators' guide: placement → kit with copy, layouts and an exclusion rule → generation job
 * (procedural, pre-filled size, styles ticked) → accept images → combinations → render → preview grid →
 * approve and publish → actual size → a live variant's copy edited (new version approved) → retire
 * (confirmed) and restore → experiment with its checklist. Each mistake the guide warns about is
 * made once and must be answered on the page. Screenshots go to test-artifacts/console/.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { launchBrowser, logIn } from "../support/browser.mjs";
import { DjangoServer, repoRoot } from "../support/django.mjs";

const ARTIFACTS = path.join(repoRoot, "test-artifacts", "console");
const PASSWORD = "a-long-test-password-42";

describe("operators' console", { timeout: 600_000 }, () => {
  let server;
  let browser;
  let page;
  const problems = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = new DjangoServer("console");
    await server.migrate();
    await server.createStaffUser("operator", PASSWORD, { roles: ["operators"] });
    await server.start();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("response", (r) => {
      if (r.status() >= 500) problems.push(`${r.status()} ${r.url()}`);
    });
    await logIn(page, server.url, "operator", PASSWORD, "/admin/");
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const submit = async (selector = "input[name=_save]") => {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  };
  const messages = async () => (await page.$$eval(".messagelist li", (els) => els.map((e) => e.textContent.trim())));
  const errors = async () => (await page.$$eval(".errorlist li, .errornote", (els) => els.map((e) => e.textContent.trim())));

  it("walks the whole flow and every mistake is answered on the page", async () => {
    // The index: Kaleido, sections in the order of the work.
    await page.goto(`${server.url}/admin/`);
    assert.match(await page.title(), /Kaleido/);
    const sections = await page.$$eval("#content-main .module caption", (els) => els.map((e) => e.textContent.trim()));
    assert.deepEqual(sections.slice(0, 5).map((s) => s[0]), ["1", "2", "3", "4", "5"]);
    await shot("01-index");

    // 1. A placement.
    await page.goto(`${server.url}/admin/creative/placement/add/`);
    await page.fill("#id_name", "Home banner");
    await page.press("#id_name", "Tab");
    assert.equal(await page.inputValue("#id_slug"), "home-banner"); // filled from the name as it is typed
    await page.fill("#id_width", "750");
    await page.fill("#id_height", "300");
    await submit();
    assert.ok((await messages()).some((m) => m.includes("was added successfully")), JSON.stringify([await messages(), await errors()]));

    // 2. A kit with one copy, two layouts (red and blue buttons) and a mistyped exclusion rule.
    await page.goto(`${server.url}/admin/creative/creativekit/add/`);
    await page.selectOption("#id_placement", { label: "Home banner (750×300)" });
    await page.fill("#id_name", "Spring savings");
    await page.fill("#id_offer_name", "Savings account");
    await page.click("#copies-group .add-row a");
    await page.fill("#id_copies-0-headline", "Earn more on your savings");
    await page.fill("#id_copies-0-cta", "Open now");
    for (const [i, name, color] of [[0, "Red button", "#E8322E"], [1, "Blue button", "#1F5FE0"]]) {
      await page.click("#layouts-group .add-row a");
      await page.fill(`#id_layouts-${i}-name`, name);
      await page.fill(`#id_layouts-${i}-button_color`, color);
    }
    await page.click("#exclusion_rules-group .add-row a");
    await page.fill("#id_exclusion_rules-0-tag_a", "dominant_colour=red");
    await page.fill("#id_exclusion_rules-0-tag_b", "button_color=red");
    await submit("input[name=_continue]");
    assert.ok((await errors()).some((e) => e.includes("unknown tag group 'dominant_colour'")), await errors());
    await shot("02-kit-rule-mistyped");
    await page.fill("#id_exclusion_rules-0-tag_a", "dominant_color=red");
    await submit("input[name=_continue]");
    assert.ok((await messages()).some((m) => m.includes("was added successfully")), await messages());
    const kitUrl = page.url();
    assert.match(await page.textContent(".field-next_steps"), /1\. Generate images/);
    await shot("03-kit-next-steps");

    // 3. A generation job from the kit's button: the size fits the placement; Stable Diffusion without a base
    // model is refused on the form; then procedural with two ticked styles.
    await Promise.all([page.waitForNavigation(), page.click("text=1. Generate images")]);
    assert.equal(await page.inputValue("#id_width"), "512");
    assert.equal(await page.inputValue("#id_height"), "208");
    await page.selectOption("#id_backend", "diffusers");
    await submit();
    assert.ok((await errors()).some((e) => e.includes("needs a registered base model")), await errors());
    await shot("04-job-refused");
    await page.selectOption("#id_backend", "procedural");
    await page.check("input[name=styles][value=flat]");
    await page.check("input[name=styles][value=neon]");
    await page.fill("#id_steps", "2");
    await submit("input[name=_continue]");
    assert.ok((await messages()).some((m) => m.includes("queued")), await messages());
    // Without a broker the job ran in the request: accept the first image, reject the second.
    await page.reload();
    await page.check("input[name=images-0-review][value=accepted]");
    await page.check("input[name=images-1-review][value=rejected]");
    await shot("05-job-review");
    await submit("input[name=_continue]");
    assert.ok((await messages()).some((m) => m.includes("1 image(s) accepted into the kit, 1 rejected")), await messages());

    // 4. Combinations, render, review.
    await page.goto(kitUrl);
    await submit("text=2. Generate combinations");
    assert.ok((await messages()).some((m) => /\d+ new variants/.test(m)), await messages());
    await submit("text=3. Render variants");
    await page.goto(kitUrl);
    assert.match(await page.textContent(".field-rule_effects"), /excludes \d+ combination/);
    await shot("06-kit-lifecycle");
    await Promise.all([page.waitForNavigation(), page.click("text=4. Review in the preview grid")]);
    await page.click("text=Select all");
    await page.selectOption("select[name=action]", "publish");
    await submit("text=Apply to selected");
    assert.ok((await messages()).some((m) => m.includes("Approve it first")), await messages());
    await page.click("text=Select all");
    await page.selectOption("select[name=action]", "approve_publish");
    await submit("text=Apply to selected");
    await shot("07-preview-grid-live");
    const cards = await page.$$eval(".variant-card", (els) => els.map((e) => e.textContent));
    assert.ok(cards.length >= 1 && cards.every((c) => c.includes("live")), cards.join("\n"));
    await Promise.all([page.waitForNavigation(), page.click(".variant-card a >> nth=0")]);
    assert.ok(await page.$("[aria-label='phone frame'] img"));
    await shot("08-actual-size");

    // A change to a live variant's copy: a new version waits for approval while the old one serves.
    await page.goto(`${server.url}/admin/creative/copyvariant/`);
    await Promise.all([page.waitForNavigation(), page.click("#result_list tbody tr th a >> nth=0")]);
    await page.fill("#id_headline", "Earn even more on your savings");
    await submit();
    assert.ok((await messages()).some((m) => m.includes("revision pending")), await messages());
    const runAction = async (action) => {
      await page.goto(`${server.url}/admin/creative/stylevariant/`);
      await page.check("#action-toggle");
      await page.selectOption("select[name=action]", action);
      await submit("button[name=index]");
    };
    await runAction("bulk_approve_revision");
    assert.ok((await messages()).some((m) => m.startsWith("Approve the new version")), await messages());
    // Retire asks first, then can be undone to paused.
    await runAction("bulk_retire");
    assert.match(await page.textContent("h1"), /are you sure\?/);
    await shot("09-retire-confirmation");
    await submit("input[type=submit][value^='Yes']");
    assert.ok((await messages()).some((m) => m.startsWith("Retire")), await messages());
    await runAction("bulk_restore");
    const statuses = await page.$$eval("#result_list td.field-status", (els) => els.map((e) => e.textContent.trim()));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === "Paused"), statuses.join(","));

    // 5. An experiment: the checklist asks before starting without a model.
    await page.goto(`${server.url}/admin/ranking/experiment/add/`);
    await page.fill("#id_slug", "spring-ab");
    await page.selectOption("#id_placement", { label: "Home banner (750×300)" });
    await page.fill("#id_buckets_text", "control=0.5,random=0.6");
    await submit();
    assert.ok((await errors()).length > 0, "shares that do not sum to 1 are refused");
    await page.fill("#id_buckets_text", "control=0.2,random=0.2,model=0.6");
    await submit();
    assert.ok((await errors()).some((e) => e.includes("no trained and active model")), await errors());
    await shot("10-experiment-checklist");
    await page.check("#id_start_anyway");
    await submit();
    assert.ok((await messages()).some((m) => m.includes("was added successfully")), await messages());
    await page.click("text=spring-ab");
    await page.waitForLoadState("load");
    assert.ok(await page.$("a[href^='/dashboard/']"));
    await shot("11-experiment-results");

    assert.deepEqual(problems, []);
  });
});
