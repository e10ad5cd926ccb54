/**
 * Faults under load: every row of the upstream fault matrix injected through the local exchange while N raw-socket
 * clients (bench/clients.ts, their own process, acking like flow-controlled consumers) are connected to one relay
 * through `wrangler dev` with the PRODUCTION relay timers. Every book every client gets is checked against the
 * exchange: its checksum must equal the CRC32 of the exchange's top 25 levels right after the push with the same
 * seqId (streamed to the clients' process as the exchange pushes). Per fault and client: recovery = injection -> the
 * first verified book of a push made after the injection, received after the client's last non-live status (if it
 * was told); p50/p99 across clients next to the quiet figure of `bench/recovery.ts`. Fails on any wrong book and on any
 * client not back on a verified book within the fault's deadline.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { okxChecksum } from "../src/okx/checksum.js";
import { parseFault, type FaultSpec } from "../tools/exchange/faults.js";
import type { Exchange } from "../tools/exchange/server.js";
import { REPO_ROOT } from "../tools/lib/captures.js";
import { spawnClients, type Check, type ClientsProcess, type Tally } from "./clients.js";
import { percentile, type Result } from "./lib.js";
import { startStack, type Stack } from "./stack.js";

export const INST = "BTC-USDT-SWAP";
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One row of the fault matrix as the benchmarks inject it. */
export interface FaultCase {
  name: string;
  /** Clients must be told (a non-live status) before their book is good again. */
  told: boolean;
  /** How long every client may take to hold a verified book again (production timers). */
  deadlineMs: number;
  inject(ex: Exchange): void;
}

const fault = (spec: FaultSpec) => (ex: Exchange) => ex.inject(spec, "all", INST);

/**
 * The upstream fault matrix (Failure behaviour table) minus what cannot repeat on a shared relay: an unknown
 * instrument is fatal by design (clients closed 4004, test/faults.workers.test.ts) and OKX's 30 s idle close never
 * fires against a relay that pings after 20 s (test/surprises.workers.test.ts).
 */
export const FAULTS: readonly FaultCase[] = [
  { name: "gap", told: true, deadlineMs: 20_000, inject: fault(parseFault("gap")) },
  { name: "checksum", told: true, deadlineMs: 20_000, inject: fault(parseFault("checksum")) },
  { name: "malformed", told: true, deadlineMs: 20_000, inject: fault(parseFault("malformed")) },
  { name: "drop", told: true, deadlineMs: 20_000, inject: fault(parseFault("drop")) },
  { name: "notice", told: true, deadlineMs: 20_000, inject: fault(parseFault({ type: "notice", closeAfterMs: 1000 })) },
  {
    name: "refuse 3 s",
    told: true,
    deadlineMs: 30_000,
    inject(ex) {
      ex.refuse(3000);
      ex.inject(parseFault("drop"), "all", INST);
    },
  },
  // production timers: keepalive ping after 20 s of silence, 5 s for the pong
  { name: "stall", told: true, deadlineMs: 60_000, inject: fault(parseFault("stall")) },
  { name: "seq reset", told: false, deadlineMs: 20_000, inject: (ex) => ex.resetSequence(INST) },
  { name: "duplicate", told: true, deadlineMs: 20_000, inject: fault(parseFault("duplicate")) },
  { name: "reorder", told: true, deadlineMs: 20_000, inject: fault(parseFault("reorder")) },
  { name: "snapshot mid-stream", told: false, deadlineMs: 20_000, inject: fault(parseFault("snapshot")) },
  { name: "delete-missing", told: false, deadlineMs: 20_000, inject: fault(parseFault("delete-missing")) },
  {
    name: "huge (3 MiB)",
    told: false,
    deadlineMs: 20_000,
    inject: fault(parseFault({ type: "huge", bytes: 3 << 20 })),
  },
  { name: "binary", told: true, deadlineMs: 20_000, inject: fault(parseFault("binary")) },
  // A generic error (60012, as test/surprises.workers.test.ts): 60018 "instrument doesn't exist" is the unknown
  // instrument row, fatal by design.
  {
    name: "error-event",
    told: true,
    deadlineMs: 20_000,
    inject: fault(parseFault({ type: "error-event", code: "60012" })),
  },
  { name: "clock-jump", told: false, deadlineMs: 20_000, inject: fault(parseFault("clock-jump")) },
];

export interface VerifiedStack {
  stack: Stack;
  clients: ClientsProcess;
  /** Clients' WebSocket URL (the Worker's own workerd socket). */
  url: string;
  /** pid of the workerd process running the Worker (and the relay object), null if not found. */
  workerPid: number | null;
  /** seqIds of the exchange's last pushes (newest last). */
  lastPushes(): number[];
  stop(): Promise<void>;
}

/**
 * Exchange + wrangler dev + the clients' process, with the exchange's checksum of every pushed book (the CRC32 of
 * its top 25 levels right after the push) streamed to the clients every 100 ms so they can verify each book.
 */
export async function startVerifiedStack(speed: number): Promise<VerifiedStack> {
  const clients = await spawnClients();
  let ex: Exchange | undefined;
  let buf: Check[] = [];
  const pushed: number[] = [];
  const remember = (seqId: number) => {
    pushed.push(seqId);
    if (pushed.length > 400) pushed.splice(0, 200);
  };
  const stack = await startStack({
    speed,
    onBookPush: (instId, seqId) => {
      const b = instId === INST ? ex?.book(instId) : undefined;
      if (!b) return;
      buf.push([seqId, okxChecksum(b.bids, b.asks)]);
      remember(seqId);
    },
  });
  ex = stack.exchange;
  // Books pushed while no one subscribed (the relay reconnecting) never reach onBookPush, but a (re)subscribe's
  // snapshot carries the current one: those come from the exchange's `recent` pushes, with the checksum the
  // capture recorded for them (which the exchange's own book reproduces; the relay verifies against it).
  let lastRecent: unknown = null;
  const feed = setInterval(() => {
    const recent = stack.exchange.recent(INST);
    const from = lastRecent === null ? 0 : recent.lastIndexOf(lastRecent as (typeof recent)[number]) + 1;
    for (const r of recent.slice(from)) {
      if (r.checksum !== undefined) buf.push([r.seqId, r.checksum]);
      remember(r.seqId);
    }
    lastRecent = recent.at(-1) ?? lastRecent;
    if (buf.length === 0) return;
    clients.checks(buf);
    buf = [];
  }, 100);
  // stack.ts picks this stack's own Worker socket (a sibling of its proxy), never another run's workerd.
  return {
    stack,
    clients,
    url: `${stack.directWs}/ws/okx?instId=${INST}`,
    workerPid: stack.workerPid,
    lastPushes: () => [
      ...pushed,
      ...stack.exchange
        .recent(INST)
        .slice(-200)
        .map((r) => r.seqId),
    ],
    async stop() {
      clearInterval(feed);
      await clients.close();
      await stack.stop();
    },
  };
}

/** Sum of the tallies' bad counts: books that did not match the exchange (wrong checksum or unknown seqId). */
export function badBooks(t: readonly Tally[]): { wrong: number; unknown: number } {
  return { wrong: t.reduce((s, x) => s + x.wrong, 0), unknown: t.reduce((s, x) => s + x.unknown, 0) };
}

/** Poll until every tracked client has a verified book; returns how long that took, ms. */
export async function allVerified(clients: ClientsProcess, n: number, timeoutMs: number): Promise<number> {
  const t0 = now();
  for (;;) {
    const { tallies } = await clients.tally();
    const ready = tallies.filter((t) => t.verified > 0).length;
    if (ready === n) return now() - t0;
    if (now() - t0 > timeoutMs) throw new Error(`only ${ready}/${n} clients got a verified book in ${timeoutMs} ms`);
    await sleep(250);
  }
}

export interface FaultOutcome {
  p50: number;
  p99: number;
  max: number;
  /** Clients on a verified book again (after the fault) within the deadline. */
  recovered: number;
  told: number;
  /** Clients whose newest book is verified when the measurement ended. */
  lastVerified: number;
}

/** Inject one fault and wait until every client is back on a verified book (or the deadline passes). */
export async function injectAndRecover(
  vs: VerifiedStack,
  f: FaultCase,
  deadlineMs = f.deadlineMs,
): Promise<FaultOutcome> {
  await vs.clients.mark();
  const before = vs.lastPushes();
  const t0 = now();
  f.inject(vs.stack.exchange);
  let r = await vs.clients.recovery(t0, before);
  while (r.recoveredMs.some((x) => x === null) && now() - t0 < deadlineMs) {
    await sleep(250);
    r = await vs.clients.recovery(t0, before);
  }
  const ms = r.recoveredMs.filter((x): x is number => x !== null);
  return {
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length ? Math.max(...ms) : NaN,
    recovered: ms.length,
    told: r.toldMs.filter((x) => x !== null).length,
    lastVerified: r.lastVerified,
  };
}

/** Quiet recovery times of the last full `bench/recovery.ts` run (bench/results.json), by fault. */
function quietFigures(): Map<string, number> {
  try {
    const res = JSON.parse(readFileSync(resolve(REPO_ROOT, "bench/results.json"), "utf8")) as {
      sections?: Record<string, Result[]>;
    };
    return new Map((res.sections?.recovery ?? []).map((r) => [r.name.replace("recover from ", ""), r.value]));
  } catch {
    return new Map();
  }
}

/** Faults under load; quick mode (npm test): 20 clients, three faults. */
export async function benchFaultsLoad(quick: boolean): Promise<Result[]> {
  const n = quick ? 20 : 1000;
  const cases = quick ? FAULTS.filter((f) => ["gap", "drop", "seq reset"].includes(f.name)) : FAULTS;
  const quiet = quietFigures();
  const out: Result[] = [];
  const failures: string[] = [];
  const vs = await startVerifiedStack(1);
  try {
    await vs.clients.open(vs.url, n, 8, { track: true });
    const firstMs = await allVerified(vs.clients, n, 120_000);
    out.push({ name: `faults under load: ${n} clients connected, all on a verified book`, value: firstMs, unit: "ms" });
    for (const f of cases) {
      const before = badBooks((await vs.clients.tally()).tallies);
      const r = await injectAndRecover(vs, f);
      await sleep(1000); // books still in flight reach the verifier
      const after = badBooks((await vs.clients.tally()).tallies);
      const wrong = after.wrong - before.wrong + after.unknown - before.unknown;
      const q = quiet.get(f.name.split(" ")[0] === "refuse" ? "refuse" : f.name);
      out.push({
        name: `under load (${n} clients): ${f.name}, recovery p50`,
        value: r.p50,
        unit: "ms",
        note:
          `p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms; ${r.recovered}/${n} back on a verified book` +
          `${f.told ? `, ${r.told}/${n} told` : ""}; wrong books ${wrong}` +
          (q === undefined ? "" : `; quiet: ${q.toFixed(0)} ms`),
      });
      if (wrong > 0) failures.push(`${f.name}: ${wrong} wrong books`);
      if (r.recovered < n) failures.push(`${f.name}: ${n - r.recovered} clients not back on a verified book`);
      await sleep(1500); // the Directory's connection limiter refills; the relay settles
    }
    const end = await vs.clients.tally();
    const closed = end.tallies.filter((t) => t.closed !== null).length;
    const lv = await vs.clients.levels();
    const totals = end.tallies.reduce(
      (s, t) => ({ books: s.books + t.books, verified: s.verified + t.verified, resyncing: s.resyncing + t.resyncing }),
      { books: 0, verified: 0, resyncing: 0 },
    );
    const bad = badBooks(end.tallies);
    out.push({
      name: `under load: books checked against the exchange (${n} clients), wrong`,
      value: bad.wrong + bad.unknown,
      unit: "books",
      note: `${totals.verified}/${totals.books} verified, rest in flight; ${totals.resyncing} non-live statuses; ${closed} clients closed; newest book's levels give its checksum on ${lv.levelsOk}/${n}`,
    });
    if (bad.wrong + bad.unknown > 0) failures.push(`${bad.wrong} wrong and ${bad.unknown} unknown books in total`);
    if (closed > 0) failures.push(`${closed} clients closed`);
    if (lv.levelsOk !== n) failures.push(`newest book's levels disagree with its checksum on ${lv.levelsBad} clients`);
  } finally {
    await vs.stop();
  }
  if (failures.length > 0) {
    for (const r of out) console.log(`${r.name}: ${r.value} ${r.unit} ${r.note ?? ""}`);
    throw new Error(`faults under load failed: ${failures.join("; ")}`);
  }
  return out;
}
