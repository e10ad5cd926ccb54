#!/usr/bin/env node
/**
 * `npm start`: the whole product on this machine, offline by default.
 *   1. (prestart hook) installs dependencies if node_modules is missing or stale (npm ci);
 *   2. starts the local OKX exchange replaying the bundled real BTC-USDT-SWAP capture, looped (port 8080);
 *   3. starts `wrangler dev` (port 8787) with OKX_WS_URL / OKX_REST_URL pointing at the local exchange.
 * `npm start -- --live` skips the exchange and uses production OKX (wrangler.toml defaults).
 * Other flags: --port N (Worker, default 8787), --exchange-port N (default 8080), --replay FILE, --speed X.
 * Uses only Node built-ins so it runs before anything is installed.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    live: { type: "boolean", default: false },
    port: { type: "string", default: "8787" },
    "exchange-port": { type: "string", default: "8080" },
    replay: { type: "string" },
    speed: { type: "string", default: "1" },
  },
});

const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  NO_UPDATE_NOTIFIER: "1",
};

// Dependencies are installed by the `prestart` hook (tools/ensure-deps.mjs).
if (!existsSync(resolve(root, "node_modules/.bin/wrangler"))) {
  console.error("[start] dependencies missing: run `npm start` (its prestart hook installs them) or `npm ci`");
  process.exit(1);
}

const bin = (name) => resolve(root, "node_modules/.bin", name);
const children = [];
const stopAll = (code = 0) => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 300).unref();
};
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));

const wranglerArgs = ["dev", "--port", values.port, "--ip", "127.0.0.1", "--show-interactive-dev-session=false"];
if (!values.live) {
  const xport = values["exchange-port"];
  const exArgs = [resolve(root, "tools/exchange/cli.ts"), "--port", xport, "--speed", values.speed, "--loop"];
  if (values.replay) exArgs.push("--replay", values.replay);
  const ex = spawn(bin("tsx"), exArgs, { cwd: root, stdio: "inherit", env });
  children.push(ex);
  ex.on("exit", (code) => {
    console.error(`[start] local exchange exited (${code}); stopping`);
    stopAll(code ?? 1);
  });
  wranglerArgs.push(
    "--var",
    `OKX_WS_URL:ws://127.0.0.1:${xport}/ws/v5/public`,
    "--var",
    `OKX_REST_URL:http://127.0.0.1:${xport}`,
  );
}

const wr = spawn(bin("wrangler"), wranglerArgs, { cwd: root, stdio: ["inherit", "pipe", "inherit"], env });
children.push(wr);
let announced = false;
wr.stdout.on("data", (d) => {
  process.stdout.write(d);
  if (!announced && /Ready on/.test(String(d))) {
    announced = true;
    const base = `http://127.0.0.1:${values.port}`;
    console.log(`\n[start] TradeSim is up (${values.live ? "LIVE OKX" : "local exchange replaying real data"}):
  UI          ${base}/
  book WS     ws://127.0.0.1:${values.port}/ws/okx?instId=BTC-USDT-SWAP
  status      ${base}/status
  Ctrl-C stops everything.\n`);
  }
});
wr.on("exit", (code) => {
  console.error(`[start] wrangler exited (${code})`);
  stopAll(code ?? 1);
});
