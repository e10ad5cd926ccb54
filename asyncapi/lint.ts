/**
 * `npm run lint:api`: lints the API contract with Redocly CLI (asyncapi/redocly.yaml, the `recommended` rules):
 * the OpenAPI document exactly as GET /openapi.json builds it (written to a temporary file) and
 * asyncapi/asyncapi.json, after checking that the latter is up to date with src/protocol.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openApiDocument } from "../src/routes/docs.js";
import { ASYNCAPI_FILE, renderAsyncApi } from "./build.js";

const ROOT = resolve(import.meta.dirname, "..");
if (readFileSync(ASYNCAPI_FILE, "utf8") !== renderAsyncApi()) {
  console.error(
    "lint:api: asyncapi/asyncapi.json is out of date with src/protocol.ts: run `npx tsx asyncapi/build.ts`",
  );
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "tradesim-openapi-"));
const openapi = join(dir, "openapi.json");
writeFileSync(openapi, JSON.stringify(openApiDocument("http://127.0.0.1:8787"), null, 2));
try {
  execFileSync(
    resolve(ROOT, "node_modules/.bin/redocly"),
    ["lint", "--config", resolve(ROOT, "asyncapi/redocly.yaml"), openapi, ASYNCAPI_FILE],
    {
      stdio: "inherit",
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    },
  );
} catch {
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
