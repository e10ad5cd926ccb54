/**
 * The real stack on free loopback ports, one implementation for the end-to-end tests (test/e2e/stack.ts) and the
 * benchmarks (bench/stack.ts): the local OKX exchange in this process (replaying the bundled real BTC-USDT-SWAP
 * capture, looped, unless told otherwise) and `wrangler dev` pointed at it — a child process in its own process
 * group, with its own persistence directory and inspector port, so that it never collides with another `npm start`
 * or another stack on the machine. `stop()` tears everything down and is safe to call twice; a process `exit` hook
 * kills wrangler if the runner dies first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startExchange, type Exchange, type ExchangeOptions } from "../exchange/server.js";
import { DATA, REPO_ROOT } from "./captures.js";

export interface DevStackOptions {
  /** Exchange options over the default (the bundled BTC-USDT-SWAP capture at ×1, looped, no connection limit). */
  readonly exchange?: Partial<ExchangeOptions>;
  /** `--var NAME:VALUE` for wrangler dev (strings, as Cloudflare passes vars). */
  readonly vars?: Record<string, string>;
  /** How long wrangler dev may take to answer /health (default 90 s: a loaded 2-core machine is slow to build). */
  readonly readyTimeoutMs?: number;
}

export interface DevStack {
  readonly exchange: Exchange;
  /** The port wrangler dev listens on (its proxy). */
  readonly port: number;
  /** http://127.0.0.1:PORT of the Worker. */
  readonly baseUrl: string;
  /** wrangler dev's inspector port (the Worker isolate: bench/stack.ts `isolateHeapBytes`). */
  readonly inspectorPort: number;
  /** wrangler's output so far (for failure messages). */
  log(): string;
  /** Resident memory of the stack's workerd process(es), bytes (Linux /proc). */
  workerdRss(): number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the group we created with detached: true (wrangler + workerd)
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Sum of VmRSS over the processes of process group `pgid` whose command is `name`. */
function groupRss(pgid: number, name: string): number {
  let total = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid || !comm.startsWith(name)) continue; // fields[2]: pgrp
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Exchange + wrangler dev; resolves when the Worker answers /health (throws with wrangler's output otherwise). */
export async function startDevStack(opts: DevStackOptions = {}): Promise<DevStack> {
  const exchange = await startExchange({
    replay: [DATA.btcSwap],
    port: 0,
    host: "127.0.0.1",
    speed: 1,
    loop: true,
    connectionsPerSecond: 0,
    ...opts.exchange,
  });
  const port = await freePort();
  const inspectorPort = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "tradesim-stack-"));
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persist,
    "--show-interactive-dev-session=false",
    "--var",
    `OKX_WS_URL:${exchange.url}`,
    "--var",
    `OKX_REST_URL:${exchange.httpUrl}`,
    ...Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const env = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    NO_UPDATE_NOTIFIER: "1",
    CI: "true",
    FORCE_COLOR: "0",
  };
  const child = spawn(resolve(REPO_ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const onExit = () => killGroup(child, "SIGKILL");
  process.on("exit", onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 8_000))]);
      clearTimeout(timer);
      killGroup(child, "SIGKILL"); // workerd children that outlived wrangler, if any
    }
    await exchange.close();
    rmSync(persist, { recursive: true, force: true });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const readyMs = opts.readyTimeoutMs ?? 90_000;
  const deadline = Date.now() + readyMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`wrangler dev not ready after ${readyMs} ms:\n${out.slice(-4000)}`);
      try {
        const r = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    exchange,
    port,
    baseUrl,
    inspectorPort,
    log: () => out,
    stop,
    workerdRss: () => groupRss(child.pid!, "workerd"),
  };
}
