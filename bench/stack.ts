/**
 * Starts the real stack for HTTP/WebSocket benchmarks: the local exchange in this process and `wrangler dev` as a
 * child process pointed at it, both on free loopback ports.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import WebSocket from "ws";
import { startExchange, type Exchange, type ExchangeOptions } from "../tools/exchange/server.js";
import { DATA, REPO_ROOT } from "../tools/lib/captures.js";

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

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
  const exchange = await startExchange({
    replay: [DATA.btcSwap],
    port: 0,
    speed: 1,
    loop: true,
    connectionsPerSecond: 0,
    ...ex,
  });
  const port = await freePort();
  const inspectorPort = await freePort();
  const child: ChildProcess = spawn(
    resolve(REPO_ROOT, "node_modules/.bin/wrangler"),
    [
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(inspectorPort),
      "--show-interactive-dev-session=false",
      "--var",
      `OKX_WS_URL:${exchange.url}`,
      "--var",
      `OKX_REST_URL:${exchange.httpUrl}`,
      // Thousands of clients from one address: the per-IP limits would refuse them (429) before the relay.
      "--var",
      "RATE_LIMIT:off",
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    },
  );
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      await exchange.close();
      throw new Error(`wrangler dev did not start:\n${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const direct = await findDirect(port);
  return {
    exchange,
    base,
    ws: `ws://127.0.0.1:${port}`,
    directWs: direct?.ws ?? `ws://127.0.0.1:${port}`,
    workerPid: direct?.pid ?? null,
    inspectorPort,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      // wait for wrangler (and its workerd) to release their ports before the next stack starts
      for (let i = 0; i < 30 && child.exitCode === null && child.signalCode === null; i++)
        await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exchange.close();
    },
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
