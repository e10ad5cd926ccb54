/**
 * Fan-out latency: time from the local exchange sending a books push to the LAST of N WebSocket clients of
 * /ws/okx receiving the relay's message for it (same process clock for both ends), for N = 1, 100, 1000; and the
 * delivery rate sustained with 1,000 clients when the exchange replays faster.
 * Everything (exchange, workerd, the clients' process) shares this machine's 2 cores: the figures include that
 * contention.
 */
import { spawnClients } from "./clients.js";
import { percentile, type Result } from "./lib.js";
import { startStack } from "./stack.js";

const INST = "BTC-USDT-SWAP";
/** Clients of the sustained-rate rows. */
const SUSTAINED_N = 1000;
const now = () => performance.timeOrigin + performance.now();

/**
 * Fan-out of one run: N raw-socket clients in their own process (bench/clients.ts, acking every 8th book),
 * the exchange replaying at `speed`; latency = last client's receive time - exchange send time, per book that
 * reached all N clients within the window.
 */
async function measure(
  n: number,
  seconds: number,
  speed: number,
  direct: boolean,
): Promise<{
  p50: number;
  p99: number;
  offered: number;
  msgs: number;
  deliveries: number;
  complete: number;
  secs: number;
}> {
  const sent = new Map<number, number>();
  const stack = await startStack({ speed, onBookPush: (_id, seqId) => sent.set(seqId, now()) });
  const clients = await spawnClients();
  try {
    await clients.open(`${direct ? stack.directWs : stack.ws}/ws/okx?instId=${INST}`, n);
    await new Promise((r) => setTimeout(r, 1500)); // let every client get its first book
    const t0 = await clients.reset();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const r = await clients.report();
    const secs = (r.at - t0) / 1000;
    const lat: number[] = [];
    // Offered: pushed by the exchange in the window. Reached: delivered to at least one client (a relay or shard
    // that is behind broadcasts only the latest book, so under load most pushes never become a message).
    const t1 = r.at;
    let offered = 0;
    for (const s of sent.values()) if (s >= t0 && s <= t1) offered++;
    let msgs = 0;
    for (const [seqId, lastAt, count] of r.rows) {
      const s = sent.get(seqId);
      if (s === undefined || s < t0) continue;
      msgs++;
      if (count === n) lat.push(lastAt - s);
    }
    return {
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      offered,
      msgs,
      deliveries: r.deliveries,
      complete: lat.length,
      secs,
    };
  } finally {
    await clients.close();
    await stack.stop();
  }
}

/** `measure` with a deadline: on this 2-core machine a run can stall (reported, not hidden). */
async function measureWithin(deadlineMs: number, n: number, seconds: number, speed: number, direct = true) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), deadlineMs)));
  const r = await Promise.race([measure(n, seconds, speed, direct), timeout]);
  clearTimeout(timer);
  return r;
}

/**
 * Fan-out benchmarks; quick mode: N = 1 and 10 for a few seconds. Clients connect to the Worker's workerd socket
 * directly; one row repeats N = 1,000 through wrangler dev's proxy worker (the public dev port) for comparison.
 */
export async function benchFanout(quick: boolean): Promise<Result[]> {
  const out: Result[] = [];
  const runs: [n: number, direct: boolean][] = quick
    ? [
        [1, true],
        [10, true],
      ]
    : [
        [1, true],
        [100, true],
        [1000, true],
        [1000, false],
      ];
  for (const [n, direct] of runs) {
    const via = direct ? "" : " via wrangler dev's proxy";
    const r = await measureWithin(120_000, n, quick ? 3 : 15, 1, direct);
    if (r === null) {
      out.push({
        name: `fan-out exchange->last of ${n} clients${via}`,
        value: NaN,
        unit: "ms",
        note: "stalled: did not finish within 120 s on this machine",
      });
      continue;
    }
    out.push({
      name: `fan-out exchange->last of ${n} clients${via} p50 (x1 replay, ${r.offered} books pushed, ${r.msgs} broadcast, ${r.complete} reached all)`,
      value: r.p50,
      unit: "ms",
    });
    out.push({ name: `fan-out exchange->last of ${n} clients${via} p99`, value: r.p99, unit: "ms" });
    if (n === SUSTAINED_N && direct) {
      out.push({
        name: `sustained deliveries, ${n} clients, x1 replay (${(r.offered / r.secs).toFixed(0)} books/s pushed, ${(r.msgs / r.secs).toFixed(0)}/s broadcast, ${r.complete}/${r.msgs} reached all)`,
        value: r.deliveries / r.secs,
        unit: "msgs/s",
      });
    }
  }
  if (!quick) {
    for (const speed of [2, 4]) {
      const r = await measureWithin(120_000, SUSTAINED_N, 10, speed);
      if (r === null) break;
      out.push({
        name: `sustained deliveries, ${SUSTAINED_N} clients, x${speed} replay (${(r.offered / r.secs).toFixed(0)} books/s pushed, ${(r.msgs / r.secs).toFixed(0)}/s broadcast, ${r.complete}/${r.msgs} reached all)`,
        value: r.deliveries / r.secs,
        unit: "msgs/s",
        note:
          r.complete > 0
            ? `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms for books that reached all`
            : `saturated: no book pushed in the window reached all ${SUSTAINED_N} clients (the relay coalesced; clients skip to the latest book)`,
      });
    }
  }
  return out;
}
