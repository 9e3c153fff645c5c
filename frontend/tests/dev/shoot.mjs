// Screenshots of every dashboard page of a running server, for a quick look while developing:
//   node tests/dev/shoot.mjs http://127.0.0.1:8000 USER PASSWORD [en|zh]
import { mkdirSync } from "node:fs";
import path from "node:path";

import { launchBrowser, logIn } from "../support/browser.mjs";
import { repoRoot } from "../support/django.mjs";

const [base = "http://127.0.0.1:8000", user = "admin", pass = "", lang = "en"] = process.argv.slice(2);
const out = path.join(repoRoot, "test-artifacts", "dev");
mkdirSync(out, { recursive: true });
const { context, close } = await launchBrowser();
const page = await context.newPage();
page.on("console", (m) => console.log("console:", m.type(), m.text()));
page.on("pageerror", (e) => console.log("pageerror:", e.message));
await page.addInitScript((l) => localStorage.setItem("kaleido.dashboard.lang", l), lang);
await logIn(page, base, user, pass);
for (const name of ["experiments", "attribution", "variants", "models"]) {
  await page.goto(`${base}/dashboard/${name}/`);
  await page.waitForSelector("main[data-ready=true]", { timeout: 20000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${out}/${name}-${lang}.png`, fullPage: true });
  await page.screenshot({ path: `${out}/${name}-${lang}-top.png` });
  console.log(name, "ok");
}
await close();
