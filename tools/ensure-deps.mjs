#!/usr/bin/env node
/**
 * `prestart` / `pretest`: install npm dependencies when they are missing or older than package-lock.json, so
 * `npm start` and `npm test` work on a fresh clone. Uses only Node built-ins.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const lock = resolve(root, "package-lock.json");
const installed = resolve(root, "node_modules/.package-lock.json");
const stale =
  !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000);
if (stale) {
  console.error("[deps] installing npm dependencies (npm ci)...");
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
