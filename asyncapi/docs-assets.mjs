/**
 * The /docs page's static files, shipped as Worker assets (wrangler `[assets]`, web/dist) so /docs works offline
 * and nothing loads from a CDN: swagger-ui-dist's bundle and stylesheet (exact version pinned in package.json)
 * with its licence, and the initializer asyncapi/docs/docs.js. The HTML page itself is served by the Worker
 * (src/routes/docs.ts) with its own CSP. Called by web/build.mjs; assets do not count towards the Worker's
 * compressed-size limit.
 */
import { cpSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Copy the docs assets into `<dist>/docs/assets/` (served at /docs/assets/, DOCS_ASSETS in src/routes/docs.ts). */
export function copyDocsAssets(dist) {
  const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const out = resolve(dist, "docs/assets");
  mkdirSync(out, { recursive: true });
  for (const f of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]) {
    cpSync(resolve(swagger, f), resolve(out, f === "LICENSE" || f === "NOTICE" ? `swagger-ui-${f}.txt` : f));
  }
  cpSync(resolve(here, "docs/docs.js"), resolve(out, "docs.js"));
}
