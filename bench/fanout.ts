/**
 * Fan-out latency: time from the local exchange sending a books push to the LAST of N WebSocket clients of
 * /ws/okx receiving the relay's message for it (same process clock for both ends), for N = 1, 100, 1000; and the
 * delivery rate sustained with 1,000 clients when the exchange replays faster.
 * Everything (exchange, workerd, N clients) shares this machine's cores: the figures include that contention.
 */
import WebSocket from "ws";
import { percentile, type Result } from "./lib.js";
import { startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";
const now = () => performance.timeOrigin + performance.now();

async function openClients(stack: Stack, n: number, onMsg: (seqId: number, t: number) => void): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, () =>
        new Promise<WebSocket>((res, rej) => {
          const ws = new WebSocket(`${stack.ws}/ws/okx?instId=${INST}`);
          ws.on("message", (d) => {
            const t = now();
            const s = d.toString();
            if (s.charCodeAt(9) !== 98) return; // {"type":"book" — skip status messages cheaply
            const m = /"seqId":(\d+)/.exec(s);
            if (m) onMsg(+m[1]!, t);
          });
          ws.once("open", () => res(ws));
          ws.once("error", rej);
        }),
      ),
    );
    out.push(...batch);
  }
  return out;
}

async function measure(n: number, seconds: number, speed: number): Promise<{ p50: number; p99: number; msgs: number; deliveries: number; complete: number; secs: number }> {
  const sent = new Map<number, number>();
  const last = new Map<number, { t: number; count: number }>();
  const stack = await startStack({ speed, onBookPush: (_id, seqId) => sent.set(seqId, now()) });
  let deliveries = 0;
  try {
    const clients = await openClients(stack, n, (seqId, t) => {
      deliveries++;
      const e = last.get(seqId);
      if (e) {
        e.count++;
        if (t > e.t) e.t = t;
      } else last.set(seqId, { t, count: 1 });
    });
    await new Promise((r) => setTimeout(r, 1500)); // let every client get its first book
    deliveries = 0;
    last.clear();
    const t0 = now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const secs = (now() - t0) / 1000;
    for (const c of clients) c.terminate();
    const lat: number[] = [];
    let complete = 0;
    for (const [seqId, e] of last) {
      const s = sent.get(seqId);
      if (s === undefined || s < t0) continue;
      if (e.count === n) {
        complete++;
        lat.push(e.t - s);
      }
    }
    return { p50: percentile(lat, 50), p99: percentile(lat, 99), msgs: last.size, deliveries, complete, secs };
  } finally {
    await stack.stop();
  }
}

/** `measure` with a deadline: on this 2-core machine a run can stall (reported, not hidden). */
async function measureWithin(deadlineMs: number, n: number, seconds: number, speed: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), deadlineMs)));
  const r = await Promise.race([measure(n, seconds, speed), timeout]);
  clearTimeout(timer);
  return r;
}

/** Fan-out benchmarks; quick mode: N = 1 and 10 for a few seconds. */
export async function benchFanout(quick: boolean): Promise<Result[]> {
  const out: Result[] = [];
  const ns = quick ? [1, 10] : [1, 100, 1000];
  for (const n of ns) {
    const r = await measureWithin(120_000, n, quick ? 3 : 15, 1);
    if (r === null) {
      out.push({ name: `fan-out exchange->last of ${n} clients`, value: NaN, unit: "ms", note: "stalled: did not finish within 120 s on this machine" });
      continue;
    }
    out.push({ name: `fan-out exchange->last of ${n} clients p50 (x1 replay, ${r.complete}/${r.msgs} books reached all)`, value: r.p50, unit: "ms" });
    out.push({ name: `fan-out exchange->last of ${n} clients p99`, value: r.p99, unit: "ms" });
  }
  if (!quick) {
    const r = await measureWithin(120_000, 100, 10, 10);
    if (r === null) return out;
    out.push({ name: `sustained deliveries, 100 clients, x10 replay (${(r.msgs / r.secs).toFixed(0)} books/s, ${r.complete}/${r.msgs} reached all)`, value: r.deliveries / r.secs, unit: "msgs/s" });
    out.push({ name: "  p99 exchange->last client at that rate", value: r.p99, unit: "ms" });
  }
  return out;
}
