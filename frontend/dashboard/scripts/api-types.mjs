#!/usr/bin/env node
/**
 * The dashboard's API types, generated from the server's OpenAPI schema (the one /api/schema/ serves).
 *
 *   npm run generate:api --workspace dashboard   rewrite src/generated/openapi.yaml and src/generated/api.ts
 *   npm run check:api --workspace dashboard      exit 1 when either differs from what the code generates now
 *
 * The schema is written by `manage.py spectacular` under the test settings (no secret or database needed),
 * validated, with any schema warning an error; the types by openapi-typescript. `npm test` runs the check,
 * so a serializer change without regenerated types fails the suite.
 * KALEIDO_PYTHON picks the interpreter (default: the repository's .venv).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import openapiTS, { astToString } from "openapi-typescript";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const generated = path.resolve(here, "../src/generated");
const python = process.env.KALEIDO_PYTHON ?? path.join(repoRoot, ".venv/bin/python");
const SCHEMA = path.join(generated, "openapi.yaml");
const TYPES = path.join(generated, "api.ts");
const HEADER = `/**
 * Kaleido's API as TypeScript types, generated from src/generated/openapi.yaml (the server's /api/schema/).
 * Do not edit: run \`npm run generate:api --workspace dashboard\` after changing a serializer.
 */
`;

async function schemaText() {
  const dir = mkdtempSync(path.join(tmpdir(), "kaleido-schema-"));
  try {
    const file = path.join(dir, "openapi.yaml");
    await run(python, ["manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", file], {
      cwd: repoRoot,
      env: { ...process.env, DJANGO_SETTINGS_MODULE: "kaleido.settings_for_tests" },
    });
    return readFileSync(file, "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function typesText(schema) {
  // arrayLength: a [low, high] interval (minItems = maxItems = 2) becomes a tuple.
  return HEADER + astToString(await openapiTS(schema, { arrayLength: true }));
}

function current(file) {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

const schema = await schemaText();
const types = await typesText(schema);
if (process.argv.includes("--check")) {
  const stale = [
    [SCHEMA, schema],
    [TYPES, types],
  ].filter(([file, text]) => current(file) !== text);
  if (stale.length) {
    for (const [file] of stale) console.error(`stale: ${path.relative(repoRoot, file)}`);
    console.error("The API changed: run `npm run generate:api --workspace dashboard` (in frontend/) and commit the result.");
    process.exit(1);
  }
  console.log("API types are up to date with the schema.");
} else {
  writeFileSync(SCHEMA, schema);
  writeFileSync(TYPES, types);
  console.log(`wrote ${path.relative(repoRoot, SCHEMA)} and ${path.relative(repoRoot, TYPES)}`);
}
