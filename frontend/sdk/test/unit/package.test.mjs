/**
 * The package as another repository gets it: `npm pack`, unpacked into a fresh project's
 * node_modules (what `npm install ./kaleido-sdk-x.y.z.tgz` does for a package without
 * dependencies), then loaded with require() and with import, and type-checked both ways.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tsc = path.resolve(sdkDir, "../node_modules/typescript/bin/tsc");
const manifest = JSON.parse(readFileSync(path.join(sdkDir, "package.json"), "utf8"));

describe("the packed package", { timeout: 120_000 }, () => {
  let dir;
  let files;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "kaleido-sdk-pack-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: sdkDir });
    const [packed] = JSON.parse(stdout);
    files = packed.files.map((f) => f.path);
    const installed = path.join(dir, "consumer", "node_modules", "@kaleido", "sdk");
    mkdirSync(installed, { recursive: true });
    await run("tar", ["-xzf", path.join(dir, packed.filename), "-C", installed, "--strip-components=1"]);
    writeFileSync(path.join(dir, "consumer", "package.json"), JSON.stringify({ name: "consumer", private: true }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const consumer = (...parts) => path.join(dir, "consumer", ...parts);

  it("is named by a semver version with a changelog entry, and ships only the build", () => {
    assert.match(manifest.version, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/);
    const changelog = readFileSync(path.join(sdkDir, "CHANGELOG.md"), "utf8");
    assert.ok(changelog.includes(`## ${manifest.version}`), "CHANGELOG.md has a section for this version");
    assert.ok(files.includes("dist/index.js") && files.includes("dist/cjs/index.js") && files.includes("dist/cjs/package.json"));
    assert.ok(files.includes("CHANGELOG.md") && files.includes("README.md"));
    assert.ok(files.includes("dist/generated/api.d.ts") && files.includes("dist/cjs/generated/api.d.ts"), "the wire types generated from the schema");
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), files.join(", "));
  });

  it("loads with require() (CommonJS)", async () => {
    writeFileSync(
      consumer("main.cjs"),
      `const sdk = require("@kaleido/sdk");
       const client = new sdk.KaleidoClient({ baseUrl: "http://kaleido.test", fetch: async () => new Response("{}"), fatigue: false });
       console.log(JSON.stringify({ client: client instanceof sdk.KaleidoClient, mock: typeof sdk.MockKaleidoClient,
         fallback: sdk.fallbackFromDesign("p", { variant_id: 1 }).bucket, version: require("@kaleido/sdk/package.json").version }));`,
    );
    const { stdout } = await run(process.execPath, ["main.cjs"], { cwd: consumer() });
    assert.deepEqual(JSON.parse(stdout), { client: true, mock: "function", fallback: "control", version: manifest.version });
  });

  it("loads with import (ES module)", async () => {
    writeFileSync(
      consumer("main.mjs"),
      `import { KaleidoClient, KaleidoValidationError } from "@kaleido/sdk";
       const client = new KaleidoClient({ baseUrl: "http://kaleido.test", fetch: async () => new Response("{}"), fatigue: false });
       let field;
       try { client.track({ type: "impression", decision_id: "6f1c2d7e-0000-4000-8000-000000000001", variant_id: 0, user_id: "u", placement: "p" }); } catch (e) { field = e instanceof KaleidoValidationError && e.field; }
       console.log(JSON.stringify({ field }));`,
    );
    const { stdout } = await run(process.execPath, ["main.mjs"], { cwd: consumer() });
    assert.deepEqual(JSON.parse(stdout), { field: "variant_id" });
  });

  it("type-checks in a TypeScript project, from CommonJS and from ESM", async () => {
    const source = `import { KaleidoClient, type ErrorAnswer, type RankResult, type TrackInput } from "@kaleido/sdk";
      const client = new KaleidoClient({ baseUrl: "http://kaleido.test", closeTimeoutMs: 5000, overflow: "drop-newest" });
      export async function top(): Promise<number | undefined> {
        const result: RankResult = await client.rank({ placement: "p", user: { id: "u", features: { age: 30, vip: true } } });
        const button: string | undefined = result.items[0]?.render.colors?.button;
        const seen: TrackInput = { type: "impression", decision_id: result.decision_id, variant_id: 1, user_id: "u", placement: "p" };
        // @ts-expect-error: an event names its decision
        const undecided: TrackInput = { type: "impression", variant_id: 1, user_id: "u", placement: "p" };
        // @ts-expect-error: features are flat
        await client.rank({ placement: "p", user: { id: "u", features: { nested: { a: 1 } } } });
        const problem: ErrorAnswer = { detail: "Invalid request.", errors: { k: ["too big"] } };
        const closed = await client.close({ timeoutMs: 1000 });
        return result.items[0]?.variant_id ?? closed.undelivered.length + [button, seen, undecided, problem].length;
      }\n`;
    writeFileSync(consumer("check.cts"), source);
    writeFileSync(consumer("check.mts"), source);
    const compilerOptions = { noEmit: true, strict: true, module: "node16", moduleResolution: "node16", target: "es2020", lib: ["es2020", "dom"], types: [] };
    writeFileSync(consumer("tsconfig.json"), JSON.stringify({ compilerOptions, files: ["check.cts", "check.mts"] }));
    await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: consumer() }).catch((error) => {
      assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`);
    });
  });
});
