/**
 * Fan-out shards (issue: scale-out).
 * 1. Relay CPU per book vs clients: the real relay core (src/relay/core.ts) in Node over fake sockets, fed the
 *    bundled BTC-USDT-SWAP capture (400-level books, every checksum verified). workerd gives no per-object CPU
 *    clock (Date.now and performance.now stand still while JS runs: a Spectre mitigation), so this is where one
 *    object's cost can be timed. One-shard mode: the relay sends to every client; sharded: to K = ceil(N/250)
 *    shard links, whatever N.
 * 2. End to end through workerd (the Worker's own socket; raw-socket clients in their own process, bench/clients.ts):
 *    exchange -> last client p50/p99 for 1,000 and 5,000 clients through 1, 5 and 10 shards and without shards;
 *    sustained deliveries/s vs shard count with the exchange replaying x4; workerd memory per shard and per client.
 * Everything shares this machine's 2 cores; the figures include that contention.
 */
import { NoChangeMultiModel } from "../src/predict/multi.js";
import type { ClientSocket } from "../src/relay/clients.js";
import { RELAY_DEFAULTS } from "../src/relay/config.js";
import { RelayCore } from "../src/relay/core.js";
import { wantMessage } from "../src/relay/link.js";
import type { LinkSocket } from "../src/relay/shards.js";
import type { UpstreamHandlers } from "../src/relay/upstream.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";
import { spawnClients } from "./clients.js";
import { percentile, type Result } from "./lib.js";
import { rssMiB, startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";
const now = () => performance.timeOrigin + performance.now();

const utf8 = new TextEncoder();
const sendBuffer = new Uint8Array(1 << 20);

/**
 * A socket that counts and copies each frame out as UTF-8, the least a runtime send does (workerd copies the
 * string out of the JS heap for the network): so per-client work shows in the relay's CPU time. It stands for a
 * client or a shard link.
 */
class CountingSocket implements ClientSocket, LinkSocket {
  frames = 0;
  bytes = 0;
  attachment: unknown = null;
  send(text: string): void {
    this.frames++;
    this.bytes += utf8.encodeInto(text, sendBuffer).written;
  }
  close(): void {}
  deserializeAttachment(): unknown {
    return this.attachment;
  }
  serializeAttachment(v: unknown): void {
    this.attachment = v;
  }
}

/**
 * Relay CPU per book change with `clients` book clients, in one-shard mode (`sharded` false: the relay sends to
 * every client) or sharded (the clients sit on ceil(clients/250) shards; the relay sends to the links).
 */
async function relayCpuPerBook(clients: number, sharded: boolean, messages: readonly string[]) {
  let handlers: UpstreamHandlers | null = null;
  const core = new RelayCore<CountingSocket>(
    { ...RELAY_DEFAULTS, shardThreshold: sharded ? 0 : 1_000_000 },
    {
      now: Date.now,
      connect: async (_url, h) => {
        handlers = h;
        return { send: () => {}, close: () => {} };
      },
      reserveConnectSlot: null,
      report: () => {},
      setAlarm: async () => {},
      predictors: { fallback: () => new NoChangeMultiModel([]), load: async () => new NoChangeMultiModel([]) },
      log: { error: () => {}, warn: () => {}, info: () => {} },
      defer: () => {},
    },
  );
  const sockets: CountingSocket[] = [];
  if (sharded) {
    const k = Math.ceil(clients / RELAY_DEFAULTS.shardClients);
    for (let i = 0; i < k; i++) {
      const ws = new CountingSocket();
      const a = core.newLinkAttachment(INST, i);
      ws.attachment = a;
      core.onLinkOpen(ws, a);
      core.onMessage(ws, wantMessage(Math.ceil(clients / k), [25], false));
      sockets.push(ws);
    }
  } else {
    for (let i = 0; i < clients; i++) {
      const ws = new CountingSocket();
      core.onOpen(ws, core.newAttachment(INST, "book", 25));
      sockets.push(ws);
    }
  }
  await new Promise((r) => setTimeout(r, 0)); // the connect promise
  if (!handlers) throw new Error("relay did not connect");
  const h = handlers as UpstreamHandlers;
  const warm = Math.min(200, messages.length);
  for (const m of messages.slice(0, warm)) h.onMessage(m);
  const before = core.snapshotStats().broadcasts;
  const frames0 = sockets.reduce((n, s) => n + s.frames, 0);
  const cpu0 = process.cpuUsage();
  for (const m of messages.slice(warm)) h.onMessage(m);
  const cpu = process.cpuUsage(cpu0);
  const books = core.snapshotStats().broadcasts - before;
  const frames = sockets.reduce((n, s) => n + s.frames, 0) - frames0;
  return { usPerBook: (cpu.user + cpu.system) / books, framesPerBook: frames / books, books };
}

interface Run {
  p50: number;
  p99: number;
  msgs: number;
  complete: number;
  deliveries: number;
  secs: number;
  rssBefore: number;
  rssAfter: number;
}

/** N raw-socket clients through `shards` shards (0: one-shard mode), the exchange replaying at `speed`. */
async function endToEnd(n: number, shards: number, seconds: number, speed: number): Promise<Run> {
  const sent = new Map<number, number>();
  const vars: Record<string, string> =
    shards === 0
      ? { RELAY_SHARD_THRESHOLD: String(n + 1) }
      : {
          RELAY_SHARD_THRESHOLD: "0",
          RELAY_SHARD_CLIENTS: String(Math.ceil(n / shards)),
          RELAY_MAX_SHARDS: String(shards),
        };
  const stack: Stack = await startStack({ speed, onBookPush: (_id, seqId) => sent.set(seqId, now()) }, vars);
  const clients = await spawnClients();
  try {
    // One client first (the relay, its book and model exist), then the rest: the RSS step is what clients cost.
    await clients.open(`${stack.directWs}/ws/okx?instId=${INST}`, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const rssBefore = rssMiB(stack.workerPid) ?? NaN;
    await clients.open(`${stack.directWs}/ws/okx?instId=${INST}`, n - 1);
    await new Promise((r) => setTimeout(r, 2000));
    const rssAfter = rssMiB(stack.workerPid) ?? NaN;
    const t0 = await clients.reset();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const r = await clients.report();
    const secs = (r.at - t0) / 1000;
    // Latency of each book to the LAST client that received it. Under overload clients are conflated (they skip
    // to the latest book), so "books that reached all N" can be none; coverage says how many deliveries were made.
    const lat: number[] = [];
    let msgs = 0;
    let complete = 0;
    for (const [seqId, lastAt, count] of r.rows) {
      const s = sent.get(seqId);
      if (s === undefined || s < t0) continue;
      msgs++;
      lat.push(lastAt - s);
      if (count === n) complete++;
    }
    return {
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      msgs,
      complete,
      deliveries: r.deliveries,
      secs,
      rssBefore,
      rssAfter,
    };
  } finally {
    await clients.close();
    await stack.stop();
  }
}

async function within<T>(ms: number, p: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p, new Promise<null>((res) => (timer = setTimeout(() => res(null), ms)))]);
  clearTimeout(timer);
  return r;
}

/** The shard benchmarks; quick mode: the CPU rows on a slice and one tiny sharded run. */
export async function benchShards(quick: boolean): Promise<Result[]> {
  const out: Result[] = [];
  const messages = receivedMessages(DATA.btcSwap)
    .map((m) => m.json)
    .slice(0, quick ? 400 : 3000);
  for (const [n, sharded] of [
    [1, false],
    [1000, false],
    [5000, false],
    [1000, true],
    [5000, true],
  ] as const) {
    if (quick && n > 1000) continue;
    const r = await relayCpuPerBook(n, sharded, messages);
    out.push({
      name: `relay CPU per book, ${n} client${n > 1 ? "s" : ""}${sharded ? ` on ${Math.ceil(n / 250)} shards` : " on the relay"} (Node, real core; ${r.framesPerBook.toFixed(0)} frames/book)`,
      value: r.usPerBook,
      unit: "µs",
    });
  }
  const runs: [n: number, shards: number][] = quick
    ? [[10, 2]]
    : [
        [1000, 0],
        [1000, 1],
        [1000, 5],
        [1000, 10],
        [5000, 5],
        [5000, 10],
        [5000, 20],
      ];
  for (const [n, shards] of runs) {
    const via = shards === 0 ? "no shards (one object)" : `${shards} shard${shards > 1 ? "s" : ""}`;
    const r = await within(180_000, endToEnd(n, shards, quick ? 3 : 15, 1));
    if (r === null) {
      out.push({
        name: `shards: exchange->last of ${n} via ${via}`,
        value: NaN,
        unit: "ms",
        note: "did not finish in 180 s",
      });
      continue;
    }
    out.push({
      name: `shards: exchange->last receiving client, ${n} clients via ${via}, p50 (x1; ${r.complete}/${r.msgs} books reached all, ${((100 * r.deliveries) / Math.max(1, r.msgs * n)).toFixed(0)}% of deliveries)`,
      value: r.p50,
      unit: "ms",
    });
    out.push({
      name: `shards: exchange->last receiving client, ${n} clients via ${via}, p99`,
      value: r.p99,
      unit: "ms",
    });
    out.push({
      name: `shards: workerd memory per client, ${n} clients via ${via}`,
      value: ((r.rssAfter - r.rssBefore) * 1024) / (n - 1),
      unit: "KiB",
      note: `workerd RSS ${r.rssBefore.toFixed(0)} -> ${r.rssAfter.toFixed(0)} MiB`,
    });
  }
  if (!quick) {
    // What one object sustains with a shard-sized client count, replayed fast enough to saturate it.
    const one = await within(180_000, endToEnd(200, 0, 10, 8));
    if (one) {
      out.push({
        name: `shards: one object's sustained sends, 200 clients, x8 replay (${(one.msgs / one.secs).toFixed(0)} books/s offered)`,
        value: one.deliveries / one.secs,
        unit: "msgs/s",
        note: `${((100 * one.deliveries) / Math.max(1, one.msgs * 200)).toFixed(0)}% of book x client deliveries`,
      });
    }
    for (const shards of [0, 1, 2, 5, 10]) {
      const r = await within(180_000, endToEnd(1000, shards, 10, 4));
      if (r === null) continue;
      out.push({
        name: `shards: sustained deliveries, 1000 clients, x4 replay, ${shards === 0 ? "no shards" : `${shards} shard${shards > 1 ? "s" : ""}`} (${(r.msgs / r.secs).toFixed(0)} books/s offered)`,
        value: r.deliveries / r.secs,
        unit: "msgs/s",
        note: `${((100 * r.deliveries) / Math.max(1, r.msgs * 1000)).toFixed(0)}% of book x client deliveries; ${r.complete}/${r.msgs} books reached all`,
      });
    }
  }
  return out;
}
