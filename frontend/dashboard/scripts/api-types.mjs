#!/usr/bin/env node
/**
 * The API types of the dashboard and of the SDK, generated from the server's OpenAPI schema (the one
 * /api/schema/ serves).
 *
 *   npm run generate:api --workspace dashboard   rewrite dashboard/src/generated/{openapi.yaml,api.ts}
 *                                                and sdk/src/generated/api.ts
 *   npm run check:api --workspace dashboard      exit 1 when any differs from what the code generates now
 *
 * The schema is written by `manage.py spectacular` under the test settings (no secret or database needed),
 * validated, with any schema warning an error; the types by openapi-typescript. The SDK's types cover the
 * public endpoints only (/api/v1/rank, /api/v1/events and what they reference), with fields that have a
 * default optional, as a client may leave them out. `npm test` runs the check, so a serializer change
 * without regenerated types fails the suite.
 * KALEIDO_PYTHON picks the interpreter (default: the repository's .venv).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
const SDK_TYPES = path.resolve(here, "../../sdk/src/generated/api.ts");
const HEADER = `/**
 * Kaleido's API as TypeScript types, generated from src/generated/openapi.yaml (the server's /api/schema/).
 * Do not edit: run \`npm run generate:api --workspace dashboard\` after changing a serializer.
 */
`;
const SDK_HEADER = `/**
 * Kaleido's public API (rank and events) as TypeScript types, generated from the server's /api/schema/.
 * Do not edit: run \`npm run generate:api --workspace dashboard\` (in frontend/) after changing a serializer.
 */
`;
/** The endpoints the SDK calls. */
const SDK_PATHS = ["/api/v1/rank", "/api/v1/events"];

/** The schema as YAML text (as committed for the dashboard) and as an object (parsed by the same Python). */
async function schemaText() {
  const dir = mkdtempSync(path.join(tmpdir(), "kaleido-schema-"));
  try {
    const file = path.join(dir, "openapi.yaml");
    await run(python, ["manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", file], {
      cwd: repoRoot,
      env: { ...process.env, DJANGO_SETTINGS_MODULE: "kaleido.settings_for_tests" },
    });
    const { stdout } = await run(python, ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", file], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return { text: readFileSync(file, "utf8"), object: JSON.parse(stdout) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function typesText(schema) {
  // arrayLength: a [low, high] interval (minItems = maxItems = 2) becomes a tuple.
  return HEADER + astToString(await openapiTS(schema, { arrayLength: true }));
}

/** The SDK's part of the schema: its paths and the components they reference, transitively. */
function publicSchema(schema) {
  const wanted = new Set();
  const visit = (node) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string" && value.startsWith("#/components/schemas/")) {
        const name = value.slice("#/components/schemas/".length);
        if (!wanted.has(name)) {
          wanted.add(name);
          visit(schema.components.schemas[name]);
        }
      } else visit(value);
    }
  };
  const paths = Object.fromEntries(SDK_PATHS.map((p) => [p, schema.paths[p]]));
  for (const [p, operations] of Object.entries(paths)) {
    if (!operations) throw new Error(`the schema has no ${p}`);
  }
  visit(paths);
  const schemas = Object.fromEntries([...wanted].sort().map((name) => [name, schema.components.schemas[name]]));
  return { ...schema, paths, components: { schemas, securitySchemes: schema.components.securitySchemes } };
}

async function sdkTypesText(schema) {
  // defaultNonNullable off: a request field with a server default (k, position) is optional to send.
  return SDK_HEADER + astToString(await openapiTS(publicSchema(schema), { arrayLength: true, defaultNonNullable: false }));
}

function current(file) {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

const schema = await schemaText();
const types = await typesText(schema.text);
const sdkTypes = await sdkTypesText(schema.object);
const outputs = [
  [SCHEMA, schema.text],
  [TYPES, types],
  [SDK_TYPES, sdkTypes],
];
if (process.argv.includes("--check")) {
  const stale = outputs.filter(([file, text]) => current(file) !== text);
  if (stale.length) {
    for (const [file] of stale) console.error(`stale: ${path.relative(repoRoot, file)}`);
    console.error("The API changed: run `npm run generate:api --workspace dashboard` (in frontend/) and commit the result.");
    process.exit(1);
  }
  console.log("API types are up to date with the schema.");
} else {
  for (const [file, text] of outputs) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  console.log(`wrote ${outputs.map(([file]) => path.relative(repoRoot, file)).join(", ")}`);
}
