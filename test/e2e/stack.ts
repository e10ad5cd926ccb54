/**
 * The real stack for the UI end-to-end test, on free loopback ports: the local OKX exchange (in this process,
 * replaying the bundled real BTC-USDT-SWAP capture, looped, with the REST instruments capture for the
 * simulator's spec look-up) and `wrangler dev` (a child process in its own process group, with its own
 * persistence directory and inspector port so it never collides with another `npm start` on the machine).
 * `stop()` tears everything down and is safe to call twice; a process `exit` hook kills wrangler if the runner
 * dies first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { handleInstrumentsRequest, loadInstruments } from "../../tools/exchange/instruments.js";
import { startExchange, type Exchange } from "../../tools/exchange/server.js";
import { DATA, REPO_ROOT } from "../../tools/lib/captures.js";
import type { RelayStats } from "../../src/relay/stats.js";

export interface Stack {
  readonly exchange: Exchange;
  /** http://127.0.0.1:PORT of the Worker. */
  readonly baseUrl: string;
  /** wrangler's output so far (for failure messages). */
  log(): string;
  /** Resident memory of the stack's workerd process(es), bytes (Linux /proc). */
  workerdRss(): number;
  /** wrangler dev's inspector port (the Worker isolate: bench/stack.ts `isolateHeapBytes`). */
  readonly inspectorPort: number;
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

/**
 * The gaps in a reading client's book seqs: how many times it jumped, and how many seqs it skipped in all. A client
 * that acks every book still misses books when its acks fall more than the in-flight window behind (the relay
 * conflates it: src/relay/flow.ts) — on a loaded 2-core CI machine a 250 ms stall of the test process does that.
 * Tests that assert "every book" compare the jumps with the relay's `conflated` counter instead of demanding none.
 */
export function seqGaps(seqs: readonly number[]): { jumps: number; skipped: number; backwards: number } {
  let jumps = 0;
  let skipped = 0;
  let backwards = 0;
  for (let i = 1; i < seqs.length; i++) {
    const d = seqs[i]! - seqs[i - 1]!;
    if (d > 1) {
      jumps++;
      skipped += d - 1;
    } else if (d < 1) backwards++;
  }
  return { jumps, skipped, backwards };
}

/**
 * How many jumps in one reading client's seqs the relay accounted for between two /status readings: its
 * conflations and staleness skips (each counted once per episode, and only the reading client acks in the tests
 * that use this) and its coalesced broadcasts (behind the exchange, every client skips the same books).
 */
export function skipsAccounted(
  before: Pick<RelayStats, "conflated" | "staleSkipped" | "coalesced">,
  after: Pick<RelayStats, "conflated" | "staleSkipped" | "coalesced">,
): number {
  const delta = (k: "conflated" | "staleSkipped" | "coalesced") => after[k] - before[k];
  return delta("conflated") + delta("staleSkipped") + delta("coalesced");
}

/**
 * Vars for tests that assert every book reaches a reading client: staleness and coalescing bounds far above the
 * stalls of a loaded 2-core CI machine (seconds, while the relay loads its model beside a ×4 replay), which those
 * rules would rightly answer by skipping books. The rules themselves: test/e2e/staleness.e2e.test.ts.
 */
export const STALL_TOLERANT = { RELAY_MAX_STALENESS_MS: "15000", RELAY_COALESCE_LAG_MS: "15000" } as const;

export async function startStack(
  opts: { readyTimeoutMs?: number; vars?: Record<string, string>; speed?: number } = {},
): Promise<Stack> {
  loadInstruments(DATA.instruments20220513);
  const exchange = await startExchange({
    replay: [DATA.btcSwap],
    port: 0,
    host: "127.0.0.1",
    speed: opts.speed ?? 1,
    loop: true,
    connectionsPerSecond: 0,
    rest: handleInstrumentsRequest,
  });
  const port = await freePort();
  const inspectorPort = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "tradesim-e2e-"));
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
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out.slice(-4000)}`);
      if (Date.now() > deadline)
        throw new Error(`wrangler dev not ready after ${opts.readyTimeoutMs ?? 90_000} ms:\n${out.slice(-4000)}`);
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
  return { exchange, baseUrl, inspectorPort, log: () => out, stop, workerdRss: () => groupRss(child.pid!, "workerd") };
}
