/**
 * Soak: `npm run soak [-- --minutes 30 --clients 200 --speed 20 --fault-every 2]`. The bundled real BTC-USDT-SWAP
 * stream replayed at ×`speed` (looped) through `wrangler dev` (production relay timers) to `clients` raw-socket
 * clients in their own process (bench/clients.ts), a fault from the matrix injected every `fault-every` minutes
 * (rotating through bench/faults-load.ts FAULTS). Every minute: the RSS of the Worker's workerd process
 * (/proc/PID/status VmRSS), the isolate's V8 heap after a forced GC (inspector), the relay's counters (/status) and
 * every client's verified / wrong / resyncing counts. Every book every client gets is checked against the
 * exchange's checksum at its seqId. Runs of MIN_SLOPE_MINUTES or more write their record (options, rows, samples,
 * faults) to bench/soak-results.json (`--out FILE` elsewhere).
 *
 * Fails on: any wrong book (or one with a seqId the exchange never pushed); any client closed or without a
 * verified book for longer than RECOVERY_BOUND_MS; a client not back on a verified book after a fault; and, for
 * runs of MIN_SLOPE_MINUTES or more, an RSS slope above RSS_SLOPE_BOUND or a heap slope above HEAP_SLOPE_BOUND
 * (least squares over the samples after the warm-up). In `bench/run.ts` (section `soak`): `--quick` (in `npm test`)
 * is a 1-minute smoke with 20 clients, a sample every 10 s and a fault every 20 s; the full run soaks 5 minutes.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../tools/lib/captures.js";
import {
  FAULTS,
  INST,
  allVerified,
  badBooks,
  injectAndRecover,
  startVerifiedStack,
  type FaultOutcome,
} from "./faults-load.js";
import type { Result } from "./lib.js";
import { isolateHeapBytes, rssMiB, type Stack } from "./stack.js";

/**
 * Longest a client may go without a verified book: the slowest recovery by design is a stalled upstream (keepalive
 * ping after 20 s of silence + 5 s for the pong, then reconnect and snapshot; 25.3 s measured quiet), plus margin
 * for a loaded machine.
 */
const RECOVERY_BOUND_MS = 40_000;
/** Worker process RSS growth allowed after the warm-up, MiB per minute (60 MiB per hour). */
const RSS_SLOPE_BOUND = 1;
/** Isolate heap growth allowed after the warm-up, MiB per minute (the heap is GC'd before each reading). */
const HEAP_SLOPE_BOUND = 0.25;
/** Slopes are judged on runs at least this long; the first WARMUP_MINUTES of samples are left out. */
const MIN_SLOPE_MINUTES = 10;
const WARMUP_MINUTES = 3;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

export interface SoakOptions {
  minutes: number;
  clients: number;
  speed: number;
  faultEveryMin: number;
  sampleEveryMs: number;
}

interface Sample {
  min: number;
  rssMiB: number | null;
  heapMiB: number | null;
  books: number;
  verified: number;
  wrong: number;
  unknown: number;
  resyncing: number;
  lagging: number;
  upstreamMessages: number;
  relayState: string;
}

/** The isolate's used V8 heap after a forced GC, MiB; null when the inspector does not answer. */
async function heapMiB(stack: Stack): Promise<number | null> {
  try {
    return (await isolateHeapBytes(stack)) / MiB;
  } catch {
    return null;
  }
}

/** Least-squares slope of (x, y) pairs; NaN with fewer than 2 points. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** Run the soak; returns benchmark rows and the list of failed checks (empty: passed). */
export async function runSoak(o: SoakOptions, log: (line: string) => void = () => {}) {
  const vs = await startVerifiedStack(o.speed);
  const samples: Sample[] = [];
  const faults: { name: string; atMin: number; r: FaultOutcome }[] = [];
  const failures: string[] = [];
  try {
    await vs.clients.open(vs.url, o.clients, 8, { track: true });
    await allVerified(vs.clients, o.clients, 120_000);
    const pid = vs.workerPid;
    const t0 = now();
    const endAt = t0 + o.minutes * 60_000;
    let nextSample = t0;
    let nextFault = t0 + Math.min(o.faultEveryMin * 60_000, (o.minutes * 60_000) / 4);
    let faultIdx = 0;
    let running: Promise<void> | null = null;
    while (now() < endAt || running) {
      const t = now();
      if (t >= nextSample && t < endAt + 1000) {
        nextSample += o.sampleEveryMs;
        const { tallies } = await vs.clients.tally();
        const st = (await (await fetch(`${vs.stack.base}/status?instId=${INST}`)).json()) as {
          instruments: { state: string; upstreamMessages: number }[];
        };
        const bad = badBooks(tallies);
        const s: Sample = {
          min: (t - t0) / 60_000,
          rssMiB: rssMiB(pid),
          heapMiB: await heapMiB(vs.stack),
          books: tallies.reduce((a, x) => a + x.books, 0),
          verified: tallies.reduce((a, x) => a + x.verified, 0),
          wrong: bad.wrong,
          unknown: bad.unknown,
          resyncing: tallies.reduce((a, x) => a + x.resyncing, 0),
          lagging: tallies.reduce((a, x) => a + x.lagging, 0),
          upstreamMessages: st.instruments[0]?.upstreamMessages ?? 0,
          relayState: st.instruments[0]?.state ?? "?",
        };
        samples.push(s);
        log(
          `[soak] ${s.min.toFixed(1)} min: rss ${s.rssMiB?.toFixed(1)} MiB, heap ${s.heapMiB?.toFixed(1)} MiB, ` +
            `books ${s.books} (verified ${s.verified}, wrong ${s.wrong}, unknown ${s.unknown}), non-live statuses ` +
            `${s.resyncing}, lagging ${s.lagging}, upstream msgs ${s.upstreamMessages}, relay ${s.relayState}`,
        );
      }
      if (!running && t >= nextFault && t < endAt - 5000) {
        nextFault += o.faultEveryMin * 60_000;
        const f = FAULTS[faultIdx++ % FAULTS.length]!;
        const atMin = (t - t0) / 60_000;
        running = injectAndRecover(vs, f).then((r) => {
          faults.push({ name: f.name, atMin, r });
          log(
            `[soak] fault ${f.name} at ${atMin.toFixed(1)} min: ${r.recovered}/${o.clients} recovered, ` +
              `p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms`,
          );
          if (r.recovered < o.clients)
            failures.push(`${f.name}: ${o.clients - r.recovered} clients not back on a verified book`);
          running = null;
        });
      }
      await sleep(200);
    }
    await sleep(1000);
    const end = await vs.clients.tally();
    const bad = badBooks(end.tallies);
    const closed = end.tallies.filter((x) => x.closed !== null);
    const maxNoBook = Math.max(...end.tallies.map((x) => x.maxNoBookMs));
    const lv = await vs.clients.levels();
    if (bad.wrong + bad.unknown > 0) failures.push(`${bad.wrong} wrong and ${bad.unknown} unknown books`);
    if (closed.length > 0) failures.push(`${closed.length} clients closed (${closed.map((x) => x.closed).join(",")})`);
    if (maxNoBook > RECOVERY_BOUND_MS)
      failures.push(`a client went ${maxNoBook.toFixed(0)} ms without a verified book`);
    if (lv.levelsOk !== o.clients) failures.push(`newest book's levels disagree with its checksum: ${lv.levelsBad}`);
    const after = samples.filter((s) => s.min >= WARMUP_MINUTES);
    const rssSlope = slope(after.flatMap((s) => (s.rssMiB === null ? [] : [[s.min, s.rssMiB] as [number, number]])));
    const heapSlope = slope(after.flatMap((s) => (s.heapMiB === null ? [] : [[s.min, s.heapMiB] as [number, number]])));
    if (o.minutes >= MIN_SLOPE_MINUTES) {
      if (!(rssSlope <= RSS_SLOPE_BOUND))
        failures.push(`RSS slope ${rssSlope.toFixed(2)} MiB/min > ${RSS_SLOPE_BOUND} (or unmeasured)`);
      if (!(heapSlope <= HEAP_SLOPE_BOUND))
        failures.push(`heap slope ${heapSlope.toFixed(2)} MiB/min > ${HEAP_SLOPE_BOUND} (or unmeasured)`);
    }
    const first = samples[0];
    const last = samples.at(-1);
    const totals = end.tallies.reduce(
      (a, x) => ({ books: a.books + x.books, verified: a.verified + x.verified, resyncing: a.resyncing + x.resyncing }),
      { books: 0, verified: 0, resyncing: 0 },
    );
    const tag = `soak ${o.minutes} min, ${o.clients} clients, x${o.speed}`;
    const rows: Result[] = [
      {
        name: `${tag}: books delivered and checked`,
        value: totals.books,
        unit: "books",
        note: `${totals.verified} verified, ${bad.wrong} wrong, ${bad.unknown} unknown; ${last?.upstreamMessages ?? 0} upstream messages; ${totals.resyncing} non-live statuses; ${faults.length} faults (${faults.map((f) => f.name).join(", ")})`,
      },
      {
        name: `${tag}: longest time a client held no verified book`,
        value: maxNoBook,
        unit: "ms",
        note: `bound ${RECOVERY_BOUND_MS} ms; ${closed.length} clients closed`,
      },
      {
        name: `${tag}: workerd RSS start -> end`,
        value: last?.rssMiB ?? NaN,
        unit: "MiB",
        note: `start ${first?.rssMiB?.toFixed(1)} MiB; slope after ${WARMUP_MINUTES} min ${rssSlope.toFixed(2)} MiB/min (bound ${RSS_SLOPE_BOUND})`,
      },
      {
        name: `${tag}: isolate heap start -> end`,
        value: last?.heapMiB ?? NaN,
        unit: "MiB",
        note: `start ${first?.heapMiB?.toFixed(1)} MiB; slope ${heapSlope.toFixed(3)} MiB/min (bound ${HEAP_SLOPE_BOUND})`,
      },
      ...faults.map((f) => ({
        name: `${tag}: recovery from ${f.name} at ${f.atMin.toFixed(1)} min, p50`,
        value: f.r.p50,
        unit: "ms",
        note: `p99 ${f.r.p99.toFixed(0)} ms, max ${f.r.max.toFixed(0)} ms, ${f.r.recovered}/${o.clients} recovered`,
      })),
    ];
    return { rows, failures, samples, faults };
  } finally {
    await vs.stop();
  }
}

/**
 * `bench/run.ts` section: quick mode is the 1-minute smoke `npm test` runs; the full benchmark run soaks for
 * 5 minutes (the 30-minute soak is `npm run soak`). Throws when a check fails.
 */
export async function benchSoak(quick: boolean): Promise<Result[]> {
  const o: SoakOptions = quick
    ? { minutes: 1, clients: 20, speed: 20, faultEveryMin: 1 / 3, sampleEveryMs: 10_000 }
    : { minutes: 5, clients: 200, speed: 20, faultEveryMin: 1, sampleEveryMs: 30_000 };
  const r = await runSoak(o);
  if (r.failures.length > 0) throw new Error(`soak failed: ${r.failures.join("; ")}`);
  return r.rows;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(REPO_ROOT, "bench/soak.ts")) {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: "30" },
      clients: { type: "string", default: "200" },
      speed: { type: "string", default: "20" },
      "fault-every": { type: "string", default: "2" },
      out: { type: "string" },
    },
  });
  const o: SoakOptions = {
    minutes: Number(values.minutes),
    clients: Number(values.clients),
    speed: Number(values.speed),
    faultEveryMin: Number(values["fault-every"]),
    sampleEveryMs: Number(values.minutes) < 5 ? 10_000 : 60_000,
  };
  const r = await runSoak(o, (l) => console.log(l));
  for (const x of r.rows) console.log(`${x.name}: ${x.value.toFixed(1)} ${x.unit}${x.note ? `  (${x.note})` : ""}`);
  // Runs of the documented length keep their record in bench/soak-results.json (like bench/results.json).
  const out =
    values.out ?? (o.minutes >= MIN_SLOPE_MINUTES ? resolve(REPO_ROOT, "bench/soak-results.json") : undefined);
  if (out) writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), options: o, ...r }, null, 2)}\n`);
  console.log(r.failures.length === 0 ? "soak passed" : `soak FAILED: ${r.failures.join("; ")}`);
  process.exit(r.failures.length === 0 ? 0 : 1);
}
