/** Debian's Chromium driven by playwright-core; never downloads a browser. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { chromium } from "playwright-core";

export const CHROMIUM = process.env.KALEIDO_CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser() {
  const profile = mkdtempSync(path.join(tmpdir(), "kaleido-chromium-"));
  // A fresh profile per run: launchPersistentContext passes it as --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1366, height: 900 },
    locale: "en-US",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** Log in through the admin login form, as an analyst would. */
export async function logIn(page, baseUrl, username, password, next = "/dashboard/") {
  await page.goto(`${baseUrl}${next}`);
  await page.waitForURL(/\/admin\/login\//);
  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await Promise.all([page.waitForURL((url) => url.pathname.startsWith(next)), page.click("input[type=submit], button[type=submit]")]);
}
