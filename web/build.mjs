#!/usr/bin/env node
/**
 * Builds the web UI into web/dist (served by the Worker through wrangler `[assets]`, see wrangler.toml):
 *   web/src/main.ts (+ the CSS it imports) -> dist/assets/app-[hash].js|css, minified, with source maps;
 *   web/index.html -> dist/index.html with the hashed names; web/public/* (favicon, `_headers`) copied as is.
 * `node web/build.mjs [--dev]` (--dev: no minification). Run by `npm run build:web`, hence by `npm start` and
 * `npm test`. web/dist is a build output and is not committed.
 */
import { build } from "esbuild";
import { copyDocsAssets } from "../asyncapi/docs-assets.mjs";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const final = resolve(web, "dist");
// Build next to dist and swap it in at the end: wrangler (dev, and the workerd tests reading wrangler.toml)
// refuses to start while the assets directory is missing, so dist must never disappear for long.
const dist = resolve(web, `.dist-${process.pid}`);
const dev = process.argv.includes("--dev");
const t0 = performance.now();

rmSync(dist, { recursive: true, force: true });
mkdirSync(resolve(dist, "assets"), { recursive: true });

const result = await build({
  entryPoints: { app: resolve(web, "src/main.ts") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome109", "firefox115", "safari16"],
  outdir: resolve(dist, "assets"),
  entryNames: "[name]-[hash]",
  minify: !dev,
  sourcemap: "linked",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": JSON.stringify(dev ? "development" : "production") },
});

const outs = Object.keys(result.metafile.outputs).map((p) => resolve(process.cwd(), p));
const js = outs.find((p) => p.endsWith(".js"));
const css = outs.find((p) => p.endsWith(".css"));
if (!js || !css) throw new Error(`build: expected a .js and a .css output, got ${outs.join(", ")}`);

let html = readFileSync(resolve(web, "index.html"), "utf8");
for (const [placeholder, file] of [
  ["/assets/app.js", js],
  ["/assets/app.css", css],
]) {
  if (!html.includes(placeholder)) throw new Error(`build: index.html does not reference ${placeholder}`);
  html = html.replace(placeholder, `/assets/${basename(file)}`);
}
writeFileSync(resolve(dist, "index.html"), html);
if (existsSync(resolve(web, "public"))) cpSync(resolve(web, "public"), dist, { recursive: true });
// Swagger UI for GET /docs, served from the bundle (pinned swagger-ui-dist, no CDN).
copyDocsAssets(dist);
// dist/.gitkeep is committed so a fresh clone has the directory before its first build (see .assetsignore).
writeFileSync(resolve(dist, ".gitkeep"), "");

const old = resolve(web, `.dist-old-${process.pid}`);
if (existsSync(final)) renameSync(final, old);
renameSync(dist, final);
rmSync(old, { recursive: true, force: true });

const kb = (p) => `${(statSync(resolve(final, "assets", basename(p))).size / 1024).toFixed(1)} KiB`;
console.error(
  `[build:web] ${relative(process.cwd(), final) || "."}: ${basename(js)} ${kb(js)}, ${basename(css)} ${kb(css)}${dev ? " (dev)" : ""} in ${(performance.now() - t0).toFixed(0)} ms`,
);
