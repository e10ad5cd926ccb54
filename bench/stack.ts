/**
 * The real stack for HTTP/WebSocket benchmarks (tools/lib/devstack.ts: the local exchange in this process and
 * `wrangler dev` pointed at it, on free loopback ports), plus what only benchmarks need: the Worker's own workerd
 * socket beside wrangler's proxy, workerd's pid, and the isolate's heap through the inspector.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import type { Exchange, ExchangeOptions } from "../tools/exchange/server.js";
import { startDevStack } from "../tools/lib/devstack.js";

/** The parent pid of `pid` (from /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces). */
function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/**
 * The Worker's own workerd socket: a loopback port of the workerd process that is a sibling (same wrangler
 * parent) of the proxy listening on the public port, answering our /health. Only siblings: on a shared machine
 * another run's workerd (a second stack, a vitest pool) serves the same Worker, and clients that land there meet
 * a stranger's relay (seen: a bench measured another run's relay).
 */
async function findDirect(publicPort: number): Promise<{ ws: string; pid: number } | null> {
  let out = "";
  try {
    out = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  } catch {
    return null; // no iproute2
  }
  const rows = [...out.matchAll(/127\.0\.0\.1:(\d+)\s.*"workerd",pid=(\d+)/g)].map((m) => ({
    port: Number(m[1]),
    pid: Number(m[2]),
  }));
  const proxyPid = rows.find((r) => r.port === publicPort)?.pid;
  if (proxyPid === undefined) return null;
  const parent = parentPid(proxyPid);
  for (const r of rows) {
    if (r.pid === proxyPid || r.port === publicPort || parentPid(r.pid) !== parent) continue;
    try {
      const res = await fetch(`http://127.0.0.1:${r.port}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok && ((await res.json()) as { service?: string }).service === "tradesim")
        return { ws: `ws://127.0.0.1:${r.port}`, pid: r.pid };
    } catch {
      // not an HTTP socket of ours
    }
  }
  return null;
}

export interface Stack {
  exchange: Exchange;
  base: string;
  ws: string;
  inspectorPort: number;
  /**
   * ws:// of wrangler dev's workerd socket (miniflare's entry worker, then the Worker), bypassing wrangler's proxy
   * worker (a second workerd process that relays every frame; production has Cloudflare's edge there instead). It is
   * not bare workerd: bench/simulate.ts `startPlainWorkerd` measures that. Equals `ws` when it cannot be found.
   */
  directWs: string;
  /** pid of the workerd process running the Worker and its Durable Objects (null when not found). */
  workerPid: number | null;
  /** Everything wrangler dev printed so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Exchange + wrangler dev; resolves when the Worker answers /health. Retries when a picked port was taken meanwhile. */
export async function startStack(ex: Partial<ExchangeOptions> = {}, vars: Record<string, string> = {}): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(ex, vars);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
}

async function startStackOnce(ex: Partial<ExchangeOptions>, vars: Record<string, string>): Promise<Stack> {
  // Thousands of clients from one address: the per-IP limits would refuse them (429) before the relay.
  const dev = await startDevStack({ exchange: ex, vars: { RATE_LIMIT: "off", ...vars } });
  const direct = await findDirect(dev.port);
  return {
    exchange: dev.exchange,
    base: dev.baseUrl,
    ws: `ws://127.0.0.1:${dev.port}`,
    directWs: direct?.ws ?? `ws://127.0.0.1:${dev.port}`,
    workerPid: direct?.pid ?? null,
    inspectorPort: dev.inspectorPort,
    log: dev.log,
    stop: dev.stop,
  };
}

/** RSS of a process from /proc, MiB; null when unknown (no pid, process gone). */
export function rssMiB(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * The Worker isolate's used V8 heap after a forced GC, in bytes, through the inspector `wrangler dev` opens
 * (HeapProfiler.collectGarbage, then Runtime.getHeapUsage). Throws when the inspector does not answer within
 * `callTimeoutMs` per call (an isolate busy with thousands of sockets answers only after its queue: seconds).
 */
export async function isolateHeapBytes(stack: Pick<Stack, "inspectorPort">, callTimeoutMs = 3_000): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${stack.inspectorPort}/json`)).json()) as {
    webSocketDebuggerUrl: string;
    title?: string;
  }[];
  const target = targets[0];
  if (!target) throw new Error("no inspector target");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r, j) => {
    ws.once("open", r);
    ws.once("error", j);
  });
  let id = 0;
  // Some inspector methods are not implemented by workerd and never answer: each call gets callTimeoutMs.
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((res) => {
      const my = ++id;
      setTimeout(() => res({}), callTimeoutMs);
      const on = (d: WebSocket.RawData) => {
        const m = JSON.parse(d.toString()) as { id?: number; result?: Record<string, unknown> };
        if (m.id === my) {
          ws.off("message", on);
          res(m.result ?? {});
        }
      };
      ws.on("message", on);
      ws.send(JSON.stringify({ id: my, method }));
    });
  await call("HeapProfiler.collectGarbage");
  const r = await call("Runtime.getHeapUsage");
  if (r.usedSize === undefined) throw new Error("inspector did not report heap usage");
  ws.close();
  return Number(r.usedSize);
}
