#!/usr/bin/env node
/**
 * Bundles the SDK into dist/index.js (ESM, browsers and Node >= 22): `npm run build` in packages/sdk-ts. The
 * checksum and backoff modules it shares with the Worker (src/okx/checksum.ts, src/relay/backoff.ts) are bundled
 * in, so dist has no import outside itself. Types: src/index.ts (the package's `types` export).
 */
import { build } from "esbuild";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: [resolve(here, "src/index.ts")],
  outfile: resolve(here, "dist/index.js"),
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  sourcemap: "linked",
  logLevel: "warning",
});
