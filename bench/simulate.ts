/**
 * POST /simulate/trade: in-process engine latency (mean over many calls) for 25, 400 and 5,000-level books
 * sent as OKX string levels, with the floor that bounds it (reading every character of the book once) and the
 * figure lazy validation would reach; the same through the Hono route in-process (JSON parse + zod + engine); and
 * HTTP requests/s with p50/p99 (autocannon, loopback, 10 connections) on three ways of running the Worker: via
 * `wrangler dev`'s proxy worker, on wrangler dev's own workerd socket (miniflare's entry worker in front of the
 * Worker), and on plain workerd serving the deploy bundle (`startPlainWorkerd`) — beside the seed stack's peer
 * (bench/peer-fastapi: FastAPI + pydantic + orjson + uvicorn, one worker, the same walk), whose venv the bench
 * creates itself; the ratios print every full run.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { simulateRoutes } from "../src/routes/simulate.js";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { specFromInput, type InstrumentSpec } from "../src/sim/instruments.js";
import { SimulateRequestSchema } from "../src/sim/schema.js";
import { simulateTrade } from "../src/sim/simulate.js";
import { DATA, REPO_ROOT, receivedMessages } from "../tools/lib/captures.js";
import { medianPerCall, type Result } from "./lib.js";
import { freePort } from "../tools/lib/devstack.js";
import { startStack } from "./stack.js";

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

/**
 * The Worker exactly as `wrangler deploy` would upload it (`wrangler deploy --dry-run --outdir`), served by plain
 * workerd (the same binary wrangler dev runs, node_modules/.bin/workerd) from a minimal config: one HTTP socket, the
 * vars, both Durable Object namespaces (SQLite-backed, in memory). No rate-limit binding: the stacks benchmarked
 * here run with RATE_LIMIT=off anyway. What it leaves out is wrangler dev's tooling: its proxy worker (a second
 * workerd process) and, inside the Worker's own process, miniflare's entry worker in front of the Worker (request
 * rewriting, cf blob, error prettifier) — the part bench/stack.ts's `directWs` still goes through.
 */
async function startPlainWorkerd(vars: Record<string, string>): Promise<{ base: string; stop(): void }> {
  const out = mkdtempSync(join(tmpdir(), "tradesim-workerd-"));
  execFileSync(resolve(REPO_ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
    cwd: REPO_ROOT,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const toml = readFileSync(resolve(REPO_ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)?.[1];
  if (date === undefined || flags === undefined) throw new Error("wrangler.toml: no compatibility_date/flags");
  const modules = readdirSync(out)
    .filter((f) => f !== "README.md" && !f.endsWith(".map"))
    // the main module first (workerd runs the first module)
    .sort((a, b) => Number(/^[0-9a-f]{40}-/.test(a)) - Number(/^[0-9a-f]{40}-/.test(b)))
    .map((f) => {
      const kind = /\.m?js$/.test(f) ? "esModule" : f.endsWith(".wasm") ? "wasm" : "data";
      return `(name = ${JSON.stringify(f)}, ${kind} = embed ${JSON.stringify(f)})`;
    });
  const bindings = [
    ...Object.entries(vars).map(([k, v]) => `(name = ${JSON.stringify(k)}, text = ${JSON.stringify(v)})`),
    '(name = "RELAY", durableObjectNamespace = "InstrumentRelay")',
    '(name = "DIRECTORY", durableObjectNamespace = "Directory")',
  ];
  const port = await freePort();
  writeFileSync(
    join(out, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${modules.join(", ")}],
  compatibilityDate = ${JSON.stringify(date)},
  compatibilityFlags = ${flags},
  bindings = [${bindings.join(", ")}],
  durableObjectNamespaces = [
    (className = "InstrumentRelay", uniqueKey = "tradesim-relay", enableSql = true),
    (className = "Directory", uniqueKey = "tradesim-directory", enableSql = true),
  ],
  durableObjectStorage = (inMemory = void),
);
`,
  );
  const child = spawn(resolve(REPO_ROOT, "node_modules/.bin/workerd"), ["serve", "--experimental", "config.capnp"], {
    cwd: out,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const stop = () => {
    child.kill("SIGTERM");
    rmSync(out, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { base, stop };
    } catch {
      // not up yet
    }
    if (i > 120 || child.exitCode !== null) {
      stop();
      throw new Error(`plain workerd did not start: ${log.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
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
    // What bounds the figure above. Floor: reading each character of the book's 4n strings once, which any
    // validation of every level must do (the API answers 400 for a malformed value anywhere in the book).
    // Bound: the same engine on a book holding only what the fill reads (the walked asks, the best bid), i.e. the
    // cost of validating lazily; it is not what the API does.
    const strings = [...b.orderbook.bids, ...b.orderbook.asks].flat();
    const readAll = (): number => {
      let acc = 0;
      for (let k = 0; k < strings.length; k++) {
        const str = strings[k]!;
        for (let i = 0; i < str.length; i++) acc += str.charCodeAt(i);
      }
      return acc;
    };
    let sink = 0;
    const floor = medianPerCall(
      () => {
        sink ^= readAll();
      },
      quick ? 1 : 5,
      ms,
    );
    if (sink === 0 && readAll() === 0) throw new Error("the book has no characters"); // uses the floor's result
    const walked = r.response.fill.levelsConsumed;
    const lazyReq = {
      ...req,
      orderbook: { bids: b.orderbook.bids.slice(0, 1), asks: b.orderbook.asks.slice(0, walked) },
    };
    const lazy = simulateTrade({ request: lazyReq, instrument: spec, instrumentSource: "request", nowMs: Date.now() });
    if (!lazy.ok || lazy.response.fill.avgPrice !== r.response.fill.avgPrice)
      throw new Error("the walked-levels book does not give the same fill");
    const bound = medianPerCall(
      () => simulateTrade({ request: lazyReq, instrument: spec, instrumentSource: "request", nowMs: Date.now() }),
      quick ? 1 : 5,
      ms,
    );
    out.push({
      name: `  floor: read every character of the ${strings.length} strings once (charCodeAt)`,
      value: floor.nsPerCall / 1000,
      unit: "us",
    });
    out.push({
      name: `  bound: same engine on only the ${walked} walked asks + best bid (lazy validation; not the API)`,
      value: bound.nsPerCall / 1000,
      unit: "us",
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
      const plain = await startPlainWorkerd({
        RATE_LIMIT: "off",
        OKX_REST_URL: stack.exchange.httpUrl,
        OKX_WS_URL: stack.exchange.url,
      });
      try {
        const direct = stack.directWs.replace(/^ws:/, "http:");
        for (const n of [25, 400]) {
          const text = JSON.stringify(body(n));
          // Every server answers this body with the same fill as the route in-process.
          const init = { method: "POST", headers: { "content-type": "application/json" }, body: text };
          const avg = async (res: Response | Promise<Response>) =>
            ((await (await res).json()) as { fill: { avgPrice: number } }).fill.avgPrice;
          const want = await avg(simulateRoutes.request("/simulate/trade", init, {}));
          for (const base of [stack.base, direct, plain.base, peer!.base]) {
            const got = await avg(fetch(`${base}/simulate/trade`, init));
            if (Math.abs(got - want) > 1e-9 * want) throw new Error(`${base}: avgPrice ${got}, in-process ${want}`);
          }
          // Interleaved, so a busy moment of the shared machine hits all four alike.
          const viaProxy = await load(`${stack.base}/simulate/trade`, text, 10);
          const own = await load(`${direct}/simulate/trade`, text, 10);
          const wd = await load(`${plain.base}/simulate/trade`, text, 10);
          const py = await load(`${peer!.base}/simulate/trade`, text, 10);
          out.push({
            name: `HTTP via wrangler dev (its proxy worker), ${n} levels/side, 10 connections, 10 s`,
            value: viaProxy.requests.average,
            unit: "req/s",
            note: `p50 ${viaProxy.latency.p50} ms, p99 ${viaProxy.latency.p99} ms`,
          });
          out.push({
            name: `HTTP on wrangler dev's workerd socket (miniflare entry worker -> Worker), ${n} levels/side`,
            value: own.requests.average,
            unit: "req/s",
            note: `p50 ${own.latency.p50} ms, p99 ${own.latency.p99} ms`,
          });
          out.push({
            name: `HTTP on plain workerd serving the deploy bundle, ${n} levels/side`,
            value: wd.requests.average,
            unit: "req/s",
            note: `p50 ${wd.latency.p50} ms, p99 ${wd.latency.p99} ms`,
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
            name: `  ratio TradeSim / peer, ${n} levels (wrangler dev's workerd socket)`,
            value: own.requests.average / py.requests.average,
            unit: "x",
          });
          out.push({
            name: `  ratio TradeSim / peer, ${n} levels (plain workerd, the deploy bundle; goal >= 2)`,
            value: wd.requests.average / py.requests.average,
            unit: "x",
          });
        }
      } finally {
        plain.stop();
        await stack.stop();
      }
    }
  } finally {
    peer?.stop();
  }
  return out;
}
