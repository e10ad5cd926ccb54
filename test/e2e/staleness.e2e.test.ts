/**
 * Bounded staleness under overload (issue #19), end to end: `wrangler dev` + the local exchange replaying the bundled
 * real BTC-USDT-SWAP stream at x1 with live-looking timestamps (~19 books/s), and CLIENTS standard WebSocket clients
 * (Node's global WebSocket, JSON.parse per message) in a child process of their own (bench/wsclients.ts), through
 * wrangler dev's public port, each acking every 8th book and measuring `now − ts` of every book for WINDOW_MS. On
 * this 2-core machine that starves the relay (before #19: 2,000 such clients got books 30 s old and growing, told
 * nothing). Asserted:
 * - no client receives a book older than the bound + TOLERANCE_MS (STRICT_MS) unless it was told `lagging` before it
 *   (any earlier notice on its socket: scope `client` when its own acks lag, scope `relay` when the object serving it
 *   is itself behind the exchange; each is told once per episode and recovery is not announced), or with it (the
 *   notice follows within the books already in flight: bench/wsclients.ts). The looser END_TO_END_MS (the relay's
 *   lag bound + the per-client bound + tolerance, what holds without the relay-scope notice) is logged too;
 * - every client keeps getting books (none is parked silently), and no socket is closed abnormally;
 * - the relay's memory stays bounded: the Worker isolate's JS heap (relay, shards, client tables) after a forced GC
 *   grows by less than HEAP_GROWTH_MAX_MIB in the window (workerd's RSS, wrangler's proxy included, is logged);
 * - the relay's own lag (GET /status relayLagMs, sampled every ~2 s) does not run away: at most RELAY_LAG_MAX_MS
 *   (before #19 it passed 30 s in 40 s and kept growing), and /status answers at least twice in the window. The
 *   design bound, RELAY_LAG_BOUND_MS + RELAY_LAG_TOLERANCE_MS (3 s), holds only in some runs on this machine and is
 *   asserted with TRADESIM_STRICT_RELAY_LAG=1 (see RELAY_LAG_MAX_MS);
 * - KEEPERS lightweight clients in this process (ws, ack every book) keep getting books: more than one per 5 s.
 *
 * The clients open in `hold` mode (parked by the relay's window until the window starts), so opening 2,000 takes
 * ~20-35 s instead of ~75 s. Load test: run under the load lock
 * (`flock /tmp/tradesim/load.lock npx vitest run --config vitest.e2e.config.ts test/e2e/staleness.e2e.test.ts`).
 * STALENESS_CLIENTS / STALENESS_WINDOW_MS / STALENESS_BOUND_MS override the load, the window and the relay's bound
 * (e.g. STALENESS_BOUND_MS=600000: no bound in practice; then the old books come without notice and the test fails).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { ServerMessage } from "../../src/protocol.js";
import { RELAY_DEFAULTS } from "../../src/relay/config.js";
import type { RelayStats } from "../../src/relay/stats.js";
import { isolateHeapBytes } from "../../bench/stack.js";
import { spawnWsClients, type LateReport, type WsClientsProcess } from "../../bench/wsclients.js";
import { startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";
const CLIENTS = Number(process.env.STALENESS_CLIENTS ?? 2_000);
const WINDOW_MS = Number(process.env.STALENESS_WINDOW_MS ?? 40_000);
const KEEPERS = 20;
/** The relay's staleness bound (RELAY_MAX_STALENESS_MS; default 2 s). */
const BOUND_MS = Number(process.env.STALENESS_BOUND_MS ?? RELAY_DEFAULTS.maxStalenessMs);
/**
 * Measurement tolerance, 1.2 s: (1) the relay checks a client's lag only when it has a book to send; while it is
 * behind it broadcasts at most once per coalescing interval (up to RELAY_COALESCE_MAX_INTERVAL_MS, 1 s), so a client
 * can cross the bound up to one interval before the relay can notice; (2) a client reads the clock when its
 * process's event loop runs the handler, up to its event-loop delay after the frame arrived: asserted below to be
 * under 200 ms at p99 (measured 20-138 ms with 2,000 clients on this shared machine).
 */
const LOOP_DELAY_P99_MAX_MS = 200;
const TOLERANCE_MS = RELAY_DEFAULTS.coalesceMaxIntervalMs + LOOP_DELAY_P99_MAX_MS;
/** The bound as a client sees it at once (`now − ts` > bound + measurement tolerance). */
const STRICT_MS = BOUND_MS + TOLERANCE_MS;
/**
 * The relay's own lag bound by design: past RELAY_COALESCE_LAG_MS it coalesces, and its interval adapts until the
 * broadcasts it still makes fit its CPU, never slower than one per RELAY_COALESCE_MAX_INTERVAL_MS.
 */
const RELAY_LAG_BOUND_MS = RELAY_DEFAULTS.coalesceLagMs + RELAY_DEFAULTS.coalesceMaxIntervalMs;
/**
 * The relay's lag is read at its last processed OKX message, which waits behind whatever the one workerd thread is
 * doing: locally that includes a broadcast to all 2,000 sockets by the relay and its shards (~0.5 s here) and the
 * /status request itself. Measured: max 2,040 ms in a 40 s window, 2,430 ms over 150 s (samples every ~5 s).
 */
const RELAY_LAG_TOLERANCE_MS = 1_000;
/**
 * What the relay's design bounds end to end: its per-client bound counts from the moment a book is SENT (to the
 * client's ack), and the book was already as old as the relay's own lag when sent, which the relay bounds separately.
 * So: age <= relay lag bound + client bound + tolerance.
 */
const END_TO_END_MS = RELAY_LAG_BOUND_MS + BOUND_MS + TOLERANCE_MS;

/**
 * The isolate's JS heap may not grow by this much in the window: the relay's and shards' per-client state is ~1.3 KiB
 * a client (bench memory), 2,000 clients ~3 MiB; a backlog held in JS (books queued per client, a growing inbound
 * queue) would be tens of MiB a second. Measured: 11-17 MiB in all (probe, 2,000 clients, 120 s). Frames already
 * handed to the runtime live outside the heap: the flow control bounds those (window, send budget; the slow-reader
 * e2e measures RSS). workerd's RSS here also holds wrangler's proxy process, which grew 330-610 MiB in 40 s windows
 * while the Worker's own process stayed flat (1,625-1,658 MiB over 120 s): logged, not asserted.
 */
const HEAP_GROWTH_MAX_MIB = 32;
/** The loaded isolate answers the inspector only after its queue (seconds; once more than 3 s). */
const INSPECTOR_TIMEOUT_MS = 30_000;
/**
 * The relay's lag must not run away. Measured on this machine at 2,000 clients through wrangler dev: max 2.0-2.4 s
 * in some runs (40 s and 150 s windows), 5-10 s in others, when the whole machine ran ~2x slower (opening the 2,000
 * clients took 15-21 s instead of 7.5 s): then even one broadcast a second is more than the one workerd thread of
 * the relay, its 8 shards and 2,000 sockets keeps up with, and pacing cannot shed the rest (acks). Before #19 the
 * lag passed 30 s within the window and kept growing.
 */
const RELAY_LAG_MAX_MS = 15_000;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

let stack: Stack;
let clients: WsClientsProcess | null = null;
const keepers: WebSocket[] = [];

beforeAll(async () => {
  stack = await startStack({
    vars: {
      // Thousands of upgrades from one address: the per-IP limit (120/min) would refuse them (bench/stack.ts too).
      RATE_LIMIT: "off",
      // The clients are parked on purpose (`hold`) while 2,000 open, which took up to 40 s in a slow state of this
      // machine (CI 2026-12-03 18:33: 730 clients closed 4009 after the default 30 s beyond the bound, before the
      // window began). This test is about notices and fresh books; the 4009 close is tested in flow and core.
      RELAY_LAG_CLOSE_MS: "180000",
      ...(process.env.STALENESS_BOUND_MS && { RELAY_MAX_STALENESS_MS: process.env.STALENESS_BOUND_MS }),
    },
  });
});

afterAll(async () => {
  for (const k of keepers) k.terminate();
  await clients?.close();
  await stack?.stop();
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function relayStats(timeoutMs: number): Promise<RelayStats | null> {
  try {
    const r = await fetch(`${stack.baseUrl}/status?instId=${INST}`, { signal: AbortSignal.timeout(timeoutMs) });
    return ((await r.json()) as { instruments: RelayStats[] }).instruments[0] ?? null;
  } catch {
    return null; // an overloaded relay answers late: counted, not fatal
  }
}

interface Keeper {
  books: number;
  lagging: number;
  ages: number[];
}

/** A lightweight client that keeps up: acks every book at once. */
function openKeeper(url: string, k: Keeper): Promise<void> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url);
    keepers.push(ws);
    ws.on("open", () => res());
    ws.on("error", rej);
    ws.on("message", (d) => {
      const m = JSON.parse(String(d)) as ServerMessage;
      if (m.type === "lagging") k.lagging++;
      if (m.type !== "book") return;
      k.books++;
      k.ages.push(Date.now() - m.ts);
      ws.send(JSON.stringify({ op: "ack", seq: m.seq }));
    });
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : Number.NaN;
};

describe(`bounded staleness with ${CLIENTS} standard WebSocket clients through wrangler dev`, () => {
  it("no book older than the bound without a lagging notice; every client keeps getting books; relay lag logged", {
    timeout: 240_000,
  }, async () => {
    const t0 = Date.now();
    const url = `${stack.baseUrl.replace(/^http/, "ws")}/ws/okx?instId=${INST}`;
    const ks: Keeper[] = Array.from({ length: KEEPERS }, () => ({ books: 0, lagging: 0, ages: [] }));
    await Promise.all(ks.map((k) => openKeeper(url, k)));
    clients = await spawnWsClients();
    const opened = await clients.open(url, CLIENTS, { hold: true, thresholdsMs: [STRICT_MS, END_TO_END_MS] });
    expect(opened).toBe(CLIENTS);
    const tOpen = Date.now() - t0;

    const before = await relayStats(20_000);
    await clients.reset();
    const rssBefore = stack.workerdRss();
    const heapBefore = await isolateHeapBytes(stack, INSPECTOR_TIMEOUT_MS);
    for (const k of ks) {
      k.books = 0;
      k.lagging = 0;
      k.ages = [];
    }
    const lags: number[] = [];
    let unanswered = 0;
    const end = Date.now() + WINDOW_MS;
    while (Date.now() < end - 1_000) {
      const st = await relayStats(Math.max(1_000, end - Date.now()));
      if (st) lags.push(st.relayLagMs);
      else unanswered++;
      await sleep(Math.min(2_000, Math.max(0, end - Date.now())));
    }
    await sleep(Math.max(0, end - Date.now()));
    const r = await clients.report();
    const after = await relayStats(20_000);
    const rssAfter = stack.workerdRss();
    const heapAfter = await isolateHeapBytes(stack, INSPECTOR_TIMEOUT_MS);
    const kAges = ks.flatMap((k) => k.ages);
    const summary = {
      openMs: tOpen,
      windowMs: r.windowMs,
      clients: r.clients,
      open: r.open,
      closes: r.closes,
      broadcast: r.broadcast,
      booksPerClient: r.perClient,
      conflatedClients: r.conflatedClients,
      toldClients: r.toldClients,
      laggingMessages: r.laggingMessages,
      ageMs: r.age,
      late: r.late.map(({ examples, earlierExamples, ...l }) => l),
      clientsLoopDelayMs: r.loopDelay,
      relayLagMs: { samples: lags, unanswered },
      relay: after && {
        broadcasts: after.broadcasts - (before?.broadcasts ?? 0),
        coalesced: after.coalesced - (before?.coalesced ?? 0),
        conflated: after.conflated - (before?.conflated ?? 0),
        staleSkipped: after.staleSkipped - (before?.staleSkipped ?? 0),
        lagClosed: after.lagClosed,
        clientLag: after.clientLag,
      },
      keepers: {
        books: ks.map((k) => k.books),
        lagging: ks.reduce((a, k) => a + k.lagging, 0),
        ageMs: { p50: pct(kAges, 50), p99: pct(kAges, 99), max: pct(kAges, 100) },
      },
      workerdRssMiB: { before: mib(rssBefore), after: mib(rssAfter) },
      isolateHeapMiB: { before: mib(heapBefore), after: mib(heapAfter) },
    };
    console.log(`[staleness] ${JSON.stringify(summary)}`);
    const strict = r.late[0] as LateReport;
    const e2e = r.late[1] as LateReport;
    for (const l of r.late) {
      if (l.examples.length > 0)
        console.log(`[staleness] > ${l.thresholdMs} ms without a notice: ${JSON.stringify(l.examples.slice(0, 5))}`);
      if (l.earlierExamples.length > 0)
        console.log(
          `[staleness] > ${l.thresholdMs} ms after an earlier notice: ${JSON.stringify(l.earlierExamples.slice(0, 5))}`,
        );
    }

    // The measurement itself is sound: the clients' process kept reading (its clock reads are timely).
    expect(r.loopDelay.p99).toBeLessThan(LOOP_DELAY_P99_MAX_MS);
    expect(r.books).toBeGreaterThan(0);
    // 1. No old book without a notice.
    expect(strict.violations, `books > ${STRICT_MS} ms old without a notice: ${JSON.stringify(strict.examples)}`).toBe(
      0,
    );
    expect(e2e.violations).toBe(0);
    // 2. Nobody parked silently: every client got books in the window; closes only for lagging (4009), if any.
    expect(r.perClient.min).toBeGreaterThan(0);
    expect(Object.keys(r.closes).filter((c) => c !== "4009")).toEqual([]);
    // 3. Clients that keep up keep getting books, fresh or with a notice.
    for (const k of ks) expect(k.books).toBeGreaterThan(WINDOW_MS / 5_000);
    // 4. Memory stays bounded: no backlog builds up in the relay's isolate during the window.
    expect(mib(heapAfter - heapBefore)).toBeLessThan(HEAP_GROWTH_MAX_MIB);
    // 5. The relay's own lag does not run away, and the relay answers /status while loaded.
    expect(lags.length, `/status answered ${lags.length} times, ${unanswered} unanswered`).toBeGreaterThanOrEqual(2);
    expect(Math.max(...lags)).toBeLessThanOrEqual(RELAY_LAG_MAX_MS);
    if (process.env.TRADESIM_STRICT_RELAY_LAG === "1") {
      expect(Math.max(...lags)).toBeLessThanOrEqual(RELAY_LAG_BOUND_MS + RELAY_LAG_TOLERANCE_MS);
    }
  });
});
