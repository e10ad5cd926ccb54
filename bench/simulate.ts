/**
 * POST /simulate/trade: in-process engine latency (mean over many calls) for 25, 400 and 5,000-level books
 * sent as OKX string levels, the same through the Hono route in-process (JSON parse + zod + engine), and HTTP
 * requests/s with p50/p99 through `wrangler dev` with autocannon on loopback: via wrangler's proxy worker and on
 * the Worker's own workerd socket, beside the seed stack's peer (bench/peer-fastapi: FastAPI + pydantic + orjson +
 * uvicorn, one worker, the same walk), whose venv the bench creates itself; the ratio prints every full run.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import autocannon from "autocannon";
import { simulateRoutes } from "../src/routes/simulate.js";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { specFromInput, type InstrumentSpec } from "../src/sim/instruments.js";
import { SimulateRequestSchema } from "../src/sim/schema.js";
import { simulateTrade } from "../src/sim/simulate.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";
import { medianPerCall, type Result } from "./lib.js";
import { freePort, startStack } from "./stack.js";

const PEER_DIR = new URL("./peer-fastapi/", import.meta.url).pathname;
const PEER_PY = `${PEER_DIR}.venv/bin/python`;

/** Create the peer's venv (bench/peer-fastapi/.venv, git-ignored) from PyPI unless it already imports. Throws on failure. */
function ensurePeerVenv(): void {
  const ok = () => {
    try {
      execFileSync(PEER_PY, ["-c", "import fastapi, pydantic, orjson, uvicorn"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync(PEER_PY) && ok()) return;
  execFileSync("python3", ["-m", "venv", `${PEER_DIR}.venv`], { stdio: "ignore" });
  execFileSync(PEER_PY, ["-m", "pip", "install", "-q", "-r", `${PEER_DIR}requirements.txt`], {
    stdio: "inherit",
    timeout: 600_000,
  });
  if (!ok()) throw new Error("peer venv does not import fastapi/pydantic/orjson/uvicorn");
}

/** Start the peer (uvicorn, one worker) on a free port; resolves when it answers. */
async function startPeer(): Promise<{ base: string; stop(): void }> {
  ensurePeerVenv();
  const port = await freePort();
  const child: ChildProcess = spawn(
    PEER_PY,
    ["-m", "uvicorn", "app:app", "--port", String(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
    { cwd: PEER_DIR, stdio: "ignore" },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/docs`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 120 || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error("the FastAPI peer did not start");
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, stop: () => child.kill("SIGTERM") };
}

async function load(url: string, text: string, seconds: number) {
  // POST /simulate/* is rate limited per client IP (src/routes/limits.ts, 600/min, key CF-Connecting-IP): every
  // request gets its own address so the benchmark measures the route, limiter call included, not 429s.
  let n = 0;
  const requests = [
    {
      setupRequest: (req: { headers?: Record<string, string> }) => ({
        ...req,
        headers: { ...req.headers, "cf-connecting-ip": `10.${(++n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` },
      }),
    },
  ];
  const opts = {
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: text,
    connections: 10,
    duration: seconds,
    requests,
  };
  const r = await autocannon(opts as Parameters<typeof autocannon>[0]);
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r;
}

const INSTRUMENT = {
  instType: "SWAP",
  ctVal: 0.01,
  ctMult: 1,
  ctType: "linear",
  tickSz: 0.1,
  lotSz: 0.01,
  minSz: 0.01,
} as const;

/** A real BTC-USDT-SWAP book (after 3,000 updates) with `n` levels per side; beyond its depth the real price grid is extended. */
function realBook(n: number): { bids: [string, string][]; asks: [string, string][] } {
  const b = createBook("BTC-USDT-SWAP");
  let k = 0;
  for (const { json } of receivedMessages(DATA.btcSwap)) {
    const m = parseOkxMessage(json);
    if (m.kind === "books") applyBook(b, m.action, m.data);
    if (++k > 3000) break;
  }
  const side = (ls: typeof b.bids, dir: number): [string, string][] => {
    const out: [string, string][] = ls.slice(0, n).map((l) => [l.px, l.sz]);
    let px = ls[Math.min(n, ls.length) - 1]!.price;
    while (out.length < n) {
      px = Math.round((px + dir * 0.1) * 10) / 10;
      out.push([px.toFixed(1), "1.5"]);
    }
    return out;
  };
  return { bids: side(b.bids, -1), asks: side(b.asks, 1) };
}

function body(levels: number) {
  // a buy that walks about a tenth of the ask side (at least one level)
  const book = realBook(levels);
  const contracts = Math.max(
    1,
    Math.round(book.asks.slice(0, Math.max(1, levels / 10)).reduce((s, [, sz]) => s + Number(sz), 0)),
  );
  return { instId: "BTC-USDT-SWAP", side: "buy", contracts, feeTier: "Lv1", orderbook: book, instrument: INSTRUMENT };
}

/** Simulation benchmarks; quick mode: tiny durations and no HTTP load. */
export async function benchSimulate(quick: boolean): Promise<Result[]> {
  const out: Result[] = [];
  const ms = quick ? 50 : 1000;
  for (const n of [25, 400, 5000]) {
    const b = body(n);
    const req = SimulateRequestSchema.parse(b);
    const spec = specFromInput(req.instId, req.instrument as never) as InstrumentSpec;
    const r = simulateTrade({ request: req, instrument: spec, instrumentSource: "request", nowMs: Date.now() });
    if (!r.ok) throw new Error(`simulate failed: ${JSON.stringify(r.error)}`);
    const t = medianPerCall(
      () => simulateTrade({ request: req, instrument: spec, instrumentSource: "request", nowMs: Date.now() }),
      quick ? 1 : 5,
      ms,
    );
    out.push({
      name: `engine simulateTrade, ${n} string levels/side (parse+validate all, fill, costs)`,
      value: t.nsPerCall / 1000,
      unit: "us",
      note: quick ? undefined : `median of 5 rounds, ${(t.minNs / 1000).toFixed(1)}-${(t.maxNs / 1000).toFixed(1)}`,
    });
  }
  for (const n of [25, 400]) {
    const text = JSON.stringify(body(n));
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: text };
    const res = await simulateRoutes.request("/simulate/trade", init, {});
    if (res.status !== 200) throw new Error(`route answered ${res.status}: ${await res.text()}`);
    // async route: time a batch of sequential requests
    const reps = quick ? 20 : 2000;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await (await simulateRoutes.request("/simulate/trade", init, {})).arrayBuffer();
    out.push({
      name: `route in-process (JSON parse + zod + engine + JSON out), ${n} levels/side`,
      value: ((performance.now() - t0) * 1000) / reps,
      unit: "us",
    });
  }
  // The peer: the same walk must give the same fill (checked every run), then its throughput beside ours.
  let peer: { base: string; stop(): void } | null = null;
  try {
    peer = await startPeer();
  } catch (e) {
    if (!quick) throw e;
    out.push({
      name: `FastAPI peer skipped (quick mode): ${e instanceof Error ? e.message.slice(0, 80) : String(e)}`,
      value: 0,
      unit: "",
    });
  }
  try {
    if (peer !== null) {
      const text = JSON.stringify(body(25));
      const ours = (await (
        await simulateRoutes.request(
          "/simulate/trade",
          { method: "POST", headers: { "content-type": "application/json" }, body: text },
          {},
        )
      ).json()) as { fill: { avgPrice: number } };
      const theirs = (await (
        await fetch(`${peer.base}/simulate/trade`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: text,
        })
      ).json()) as { fill: { avgPrice: number } };
      if (Math.abs(ours.fill.avgPrice - theirs.fill.avgPrice) > 1e-9 * ours.fill.avgPrice)
        throw new Error(`peer disagrees: avgPrice ${theirs.fill.avgPrice} vs ${ours.fill.avgPrice}`);
      if (quick) {
        const r = await load(`${peer.base}/simulate/trade`, text, 1);
        out.push({
          name: "FastAPI peer, 25 levels/side, 10 connections, 1 s (smoke; same avgPrice as ours)",
          value: r.requests.average,
          unit: "req/s",
        });
      }
    }
    if (!quick) {
      const stack = await startStack();
      try {
        const direct = stack.directWs.replace(/^ws:/, "http:");
        for (const n of [25, 400]) {
          const text = JSON.stringify(body(n));
          // Interleaved, so a busy moment of the shared machine hits all three alike.
          const viaProxy = await load(`${stack.base}/simulate/trade`, text, 10);
          const own = await load(`${direct}/simulate/trade`, text, 10);
          const py = await load(`${peer!.base}/simulate/trade`, text, 10);
          out.push({
            name: `HTTP via wrangler dev (its proxy worker), ${n} levels/side, 10 connections, 10 s`,
            value: viaProxy.requests.average,
            unit: "req/s",
            note: `p50 ${viaProxy.latency.p50} ms, p99 ${viaProxy.latency.p99} ms`,
          });
          out.push({
            name: `HTTP on the Worker's own workerd socket, ${n} levels/side`,
            value: own.requests.average,
            unit: "req/s",
            note: `p50 ${own.latency.p50} ms, p99 ${own.latency.p99} ms`,
          });
          out.push({
            name: `HTTP FastAPI+pydantic+orjson+uvicorn peer (1 worker), ${n} levels/side`,
            value: py.requests.average,
            unit: "req/s",
            note: `p50 ${py.latency.p50} ms, p99 ${py.latency.p99} ms`,
          });
          out.push({
            name: `  ratio TradeSim / peer, ${n} levels (via wrangler dev; goal >= 2)`,
            value: viaProxy.requests.average / py.requests.average,
            unit: "x",
          });
          out.push({
            name: `  ratio TradeSim / peer, ${n} levels (Worker socket)`,
            value: own.requests.average / py.requests.average,
            unit: "x",
          });
        }
      } finally {
        await stack.stop();
      }
    }
  } finally {
    peer?.stop();
  }
  return out;
}
