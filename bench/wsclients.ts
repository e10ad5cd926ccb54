/**
 * Standard WebSocket clients — Node's global `WebSocket` (undici), what a new user writes, JSON.parse per message —
 * in a child process of their own, so thousands of them neither share an event loop with the test or bench process
 * (which runs the local exchange) nor make it unresponsive. Each client measures the age of every book it receives
 * (`Date.now() − ts`: the exchange stamps `ts` with the same machine clock) and acks (`{"op":"ack","seq":n}`) every
 * `ackEvery`-th book like a flow-controlled consumer, and its latest book at once
 * - when told `lagging` with scope `client` (the relay sends it no book until it acks), and
 * - after a seq gap (conflated), and when no book came for `idleAckMs` (250 ms; a consumer that has caught up says
 *   so): a conflated client gets the latest book only on its next ack, so one that waited for 8 books before acking
 *   again would wait forever (measured before the flow fixes of issue #19, when the window also stayed closed after
 *   a catch-up: 2,000 such clients, 0 books each for 40 s, /status clientLag 50 s and `lagging: 0`); acking on gaps
 *   alone is not enough (a catch-up book may follow its predecessor without a gap: 2,000 clients stuck at 13 books).
 * `ackOnGap: false` / `ackOnLagging: false` / `idleAckMs: 0` turn these off to show exactly that.
 * `hold` (until the first reset): each client acks only its first book, so the relay's window parks it after 16
 * books; opening 2,000 clients then takes ~20-35 s instead of ~75 s (each new client no longer competes with the
 * fan-out to all the others), and the measured window starts with every client reading.
 *
 * The staleness check (issue #19: "never a stale book shown as live"), evaluated for each threshold asked for
 * (`thresholdsMs`, e.g. the bound + a measurement tolerance, and a looser end-to-end one): per client, a book older
 * than the threshold is LATE. A late book is a VIOLATION unless the client was told `lagging` before it, or
 * is told "with it": later in the same episode (a maximal run of late books on that socket), and the book is one of
 * the last MAX_IN_FLIGHT late books before that notice — the relay decides at send time and cannot recall books
 * already in flight (at most its window of unacknowledged books), so those may still arrive before its notice.
 * Excused books are split by when the notice came: in the same episode (`excused`), or only in an earlier one
 * (`excusedEarlier`: the client had been told, then saw a fresh book, then old ones again without a new notice).
 *
 * Parent side: `spawnWsClients()` forks this file under tsx and talks to it over IPC (used by
 * test/e2e/staleness.e2e.test.ts and bench/staleness.ts).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { MAX_IN_FLIGHT, type ServerMessage } from "../src/protocol.js";
import { forkChild, serveCommands } from "./child.js";

interface OpenCmd {
  cmd: "open";
  url: string;
  n: number;
  ackEvery: number;
  thresholdsMs: number[];
  ackOnLagging: boolean;
  ackOnGap: boolean;
  idleAckMs: number;
  concurrency: number;
  hold: boolean;
}
type Cmd = OpenCmd | { cmd: "reset" } | { cmd: "report" } | { cmd: "close" };

/** A late book, for failure messages. */
interface LateBook {
  client: number;
  seq: number;
  ageMs: number;
  /** ms since the window started. */
  atMs: number;
  /** The client's last `lagging` notice, ms before this book (null: never told). */
  toldMsBefore: number | null;
}

/** Late books at one threshold, in the window. */
export interface LateReport {
  thresholdMs: number;
  /** Books older than the threshold. */
  late: number;
  /** Excused by a notice in the same episode (before the book, or with it: within the in-flight window). */
  excused: number;
  /** Excused only by a notice of an earlier episode (told, then a fresh book, then old ones without a new notice). */
  excusedEarlier: number;
  /** Never told before it, nor with it. */
  violations: number;
  violatingClients: number;
  /** The first violations (at most 20) and the first books excused only by an earlier notice (at most 10). */
  examples: LateBook[];
  earlierExamples: LateBook[];
}

/** What the clients saw since the last reset (the window). */
export interface WsReport {
  /** Child clock (Unix ms) of the report; `windowMs` since the reset. */
  at: number;
  windowMs: number;
  clients: number;
  /** Clients whose socket is still open. */
  open: number;
  /** Close codes of the sockets closed so far (since opening), code -> count. */
  closes: Record<string, number>;
  /** Books received in the window, all clients. */
  books: number;
  /** Distinct relay seqs seen in the window: max - min + 1 over all clients (what the relay broadcast). */
  broadcast: number;
  /** Books per client in the window. */
  perClient: { min: number; p50: number; mean: number; max: number };
  /** Clients that got fewer books than were broadcast (by more than one at each end of the window: edges). */
  conflatedClients: number;
  /** Clients that skipped relay seqs inside the window (conflated by the window or the staleness bound). */
  skippedClients: number;
  /** Clients told `lagging` in the window, and `lagging` messages received. */
  toldClients: number;
  laggingMessages: number;
  /** Age (ms) of the books received in the window. */
  age: { p50: number; p99: number; max: number };
  /** One entry per threshold asked for, in order. */
  late: LateReport[];
  /** Event-loop delay of the clients' process in the window (ms): how late its clock reads can be. */
  loopDelay: { p99: number; max: number };
}

interface Client {
  books: number;
  firstSeq: number;
  lastSeq: number;
  skipped: boolean;
  /** `lagging` notices in the window. */
  laggings: number;
}

/** Age histogram, 1 ms buckets up to 10 min (later ones are clamped into the last bucket, `max` stays exact). */
class AgeHistogram {
  private readonly counts = new Uint32Array(600_001);
  n = 0;
  max = 0;
  add(ms: number): void {
    const i = Math.min(this.counts.length - 1, Math.max(0, Math.round(ms)));
    this.counts[i]!++;
    this.n++;
    if (ms > this.max) this.max = ms;
  }
  quantile(q: number): number {
    if (this.n === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i;
    }
    return this.max;
  }
}

interface Pending {
  seq: number;
  ageMs: number;
  at: number;
}

/** The late-book rule at one threshold (see the file comment), per client. */
class LateTracker {
  /** Per client: last notice (persists across windows), in an episode of late books, told in it, books waiting. */
  private readonly toldAt: (number | null)[] = [];
  private readonly episode: boolean[] = [];
  private readonly told: boolean[] = [];
  private readonly waiting: Pending[][] = [];
  private r: LateReport;
  private violating = new Set<number>();
  private t0 = 0;

  constructor(readonly thresholdMs: number) {
    this.r = this.empty();
  }

  private empty(): LateReport {
    const t = this.thresholdMs;
    return {
      thresholdMs: t,
      late: 0,
      excused: 0,
      excusedEarlier: 0,
      violations: 0,
      violatingClients: 0,
      examples: [],
      earlierExamples: [],
    };
  }

  add(i: number): void {
    this.toldAt[i] = null;
    this.episode[i] = false;
    this.told[i] = false;
    this.waiting[i] = [];
  }

  /** A new window: counters restart; notices and episodes carry over; books waiting from before are dropped. */
  reset(t0: number): void {
    this.t0 = t0;
    this.r = this.empty();
    this.violating = new Set();
    for (let i = 0; i < this.waiting.length; i++) this.waiting[i] = [];
  }

  private book(i: number, b: Pending): LateBook {
    const told = this.toldAt[i] ?? null;
    return {
      client: i,
      seq: b.seq,
      ageMs: b.ageMs,
      atMs: b.at - this.t0,
      toldMsBefore: told === null ? null : b.at - told,
    };
  }

  private violate(i: number, b: Pending): void {
    this.r.violations++;
    this.violating.add(i);
    if (this.r.examples.length < 20) this.r.examples.push(this.book(i, b));
  }

  /** The episode ends (a fresh book, or the report): late books never excused are violations. */
  private endEpisode(i: number): void {
    for (const b of this.waiting[i]!) this.violate(i, b);
    this.waiting[i] = [];
    this.episode[i] = false;
    this.told[i] = false;
  }

  onBook(i: number, seq: number, ageMs: number, now: number): void {
    if (ageMs <= this.thresholdMs) {
      if (this.episode[i]) this.endEpisode(i);
      return;
    }
    this.r.late++;
    this.episode[i] = true;
    if (this.told[i]) this.r.excused++;
    else if (this.toldAt[i] !== null) {
      this.r.excusedEarlier++;
      if (this.r.earlierExamples.length < 10) this.r.earlierExamples.push(this.book(i, { seq, ageMs, at: now }));
    } else this.waiting[i]!.push({ seq, ageMs, at: now });
  }

  /** Told `lagging`: the late books in flight before the notice (at most the relay's window) are excused. */
  onLagging(i: number, now: number): void {
    const w = this.waiting[i]!;
    const inFlight = w.splice(Math.max(0, w.length - MAX_IN_FLIGHT));
    this.r.excused += inFlight.length;
    for (const b of w) this.violate(i, b);
    this.waiting[i] = [];
    this.toldAt[i] = now;
    this.episode[i] = true;
    this.told[i] = true;
  }

  report(): LateReport {
    for (let i = 0; i < this.waiting.length; i++) if (this.episode[i] && !this.told[i]) this.endEpisode(i);
    return { ...this.r, violatingClients: this.violating.size };
  }
}

function child(): void {
  const clients: Client[] = [];
  const sockets: WebSocket[] = [];
  const closes: Record<string, number> = {};
  let trackers: LateTracker[] = [];
  let t0 = Date.now();
  let ages = new AgeHistogram();
  let laggingMessages = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const fresh = (): Client => ({ books: 0, firstSeq: -1, lastSeq: -1, skipped: false, laggings: 0 });

  /** Last relay seq each socket received (not reset with the window: what a lagging notice is answered with). */
  const lastSeqs: number[] = [];
  /** Last seq each socket acked, and when it last received a book. */
  const ackedSeqs: number[] = [];
  const lastBookAt: number[] = [];
  const ack = (i: number, ws: WebSocket, seq: number) => {
    ws.send(JSON.stringify({ op: "ack", seq }));
    ackedSeqs[i] = seq;
  };
  let idleTimer: NodeJS.Timeout | undefined;
  /** Idle clients ack what they have read (a consumer that caught up says so), every `ms`. */
  const startIdleAcks = (ms: number) => {
    if (idleTimer !== undefined || ms <= 0) return;
    idleTimer = setInterval(() => {
      if (held) return;
      const now = Date.now();
      for (const [i, ws] of sockets.entries())
        if (lastSeqs[i]! > ackedSeqs[i]! && now - lastBookAt[i]! >= ms && ws.readyState === WebSocket.OPEN)
          ack(i, ws, lastSeqs[i]!);
    }, ms);
  };
  /** `hold` mode until the first reset: clients ack their first book only, so the relay's window parks them. */
  let held = false;
  const onMessage = (i: number, ws: WebSocket, o: OpenCmd, data: unknown) => {
    const now = Date.now();
    const c = clients[i]!;
    let m: ServerMessage;
    try {
      m = JSON.parse(String(data)) as ServerMessage;
    } catch {
      return;
    }
    if (held) {
      if (m.type !== "book") return;
      if (lastSeqs[i]! < 0) ack(i, ws, m.seq);
      lastSeqs[i] = m.seq;
      return;
    }
    if (m.type === "lagging") {
      laggingMessages++;
      c.laggings++;
      for (const t of trackers) t.onLagging(i, now);
      // Only a client-scope notice withholds books until an ack; a relay-scope one (the serving object is behind)
      // asks for nothing, and 2,000 clients acking it at once would only add load to an object already behind.
      if (o.ackOnLagging && m.scope === "client" && lastSeqs[i]! >= 0) ack(i, ws, lastSeqs[i]!);
      return;
    }
    if (m.type !== "book") return;
    const ageMs = now - m.ts;
    ages.add(ageMs);
    c.books++;
    const gap = lastSeqs[i]! >= 0 && m.seq > lastSeqs[i]! + 1;
    if (c.firstSeq < 0) c.firstSeq = m.seq;
    else if (gap) c.skipped = true;
    c.lastSeq = m.seq;
    lastSeqs[i] = m.seq;
    lastBookAt[i] = now;
    for (const t of trackers) t.onBook(i, m.seq, ageMs, now);
    if (c.books % o.ackEvery === 0 || (gap && o.ackOnGap)) ack(i, ws, m.seq);
  };

  const openOne = (i: number, m: OpenCmd) =>
    new Promise<boolean>((res) => {
      const ws = new WebSocket(m.url);
      let opened = false;
      ws.addEventListener("open", () => {
        opened = true;
        res(true);
      });
      ws.addEventListener("message", (e) => onMessage(i, ws, m, e.data));
      ws.addEventListener("close", (e) => {
        closes[e.code] = (closes[e.code] ?? 0) + 1;
        if (!opened) res(false);
      });
      ws.addEventListener("error", () => {
        if (!opened) res(false);
      });
      sockets[i] = ws;
      clients[i] = fresh();
      lastSeqs[i] = -1;
      ackedSeqs[i] = -1;
      lastBookAt[i] = 0;
      for (const t of trackers) t.add(i);
    });

  const report = (): WsReport => {
    const now = Date.now();
    const counted = clients.filter((c) => c.firstSeq >= 0);
    const minSeq = Math.min(...counted.map((c) => c.firstSeq));
    const maxSeq = Math.max(...counted.map((c) => c.lastSeq));
    const broadcast = counted.length > 0 ? maxSeq - minSeq + 1 : 0;
    const per = clients.map((c) => c.books).sort((a, b) => a - b);
    return {
      at: now,
      windowMs: now - t0,
      clients: clients.length,
      open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length,
      closes: { ...closes },
      books: ages.n,
      broadcast,
      perClient: {
        min: per[0] ?? 0,
        p50: per[Math.floor(per.length / 2)] ?? 0,
        mean: per.length ? per.reduce((a, b) => a + b, 0) / per.length : 0,
        max: per.at(-1) ?? 0,
      },
      conflatedClients: clients.filter((c) => c.books < broadcast - 2).length,
      skippedClients: clients.filter((c) => c.skipped).length,
      toldClients: clients.filter((c) => c.laggings > 0).length,
      laggingMessages,
      age: { p50: ages.quantile(0.5), p99: ages.quantile(0.99), max: ages.max },
      late: trackers.map((t) => t.report()),
      loopDelay: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    };
  };

  serveCommands<Cmd>(async (m) => {
    if (m.cmd === "open") {
      held = m.hold;
      startIdleAcks(m.idleAckMs);
      if (trackers.length === 0) trackers = m.thresholdsMs.map((t) => new LateTracker(t));
      // At most `concurrency` handshakes at a time: thousands at once only make the first books wait.
      const first = clients.length;
      let next = 0;
      let ok = 0;
      const started = Date.now();
      const worker = async () => {
        while (next < m.n) {
          const i = first + next++;
          if (await openOne(i, m)) ok++;
          if (process.env.WSCLIENTS_DEBUG && ok % 250 === 0)
            console.error(`[wsclients] ${ok} open after ${Date.now() - started} ms`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(m.concurrency, m.n) }, worker));
      return { open: ok };
    } else if (m.cmd === "reset") {
      t0 = Date.now();
      ages = new AgeHistogram();
      laggingMessages = 0;
      for (let i = 0; i < clients.length; i++) clients[i] = fresh();
      for (const t of trackers) t.reset(t0);
      // Held clients start reading: each acks its latest book and gets the relay's latest on that ack.
      if (held) {
        held = false;
        for (const [i, ws] of sockets.entries())
          if (lastSeqs[i]! >= 0 && ws.readyState === WebSocket.OPEN) ack(i, ws, lastSeqs[i]!);
      }
      loop.reset();
      return { at: t0 };
    } else if (m.cmd === "report") {
      return { report: report() };
    } else if (m.cmd === "close") {
      clearInterval(idleTimer);
      for (const s of sockets) s.close();
      setTimeout(() => process.exit(0), 200); // after the reply
      return {};
    }
    return undefined;
  });
}

export interface WsClientsProcess {
  readonly pid: number;
  /** Open `n` clients on `url` (ws://…/ws/okx?instId=…); resolves with how many opened. */
  open(
    url: string,
    n: number,
    opts?: {
      ackEvery?: number;
      /** Ages (ms) at which to evaluate the late-book rule (default: the 2 s bound). */
      thresholdsMs?: number[];
      ackOnLagging?: boolean;
      ackOnGap?: boolean;
      /** Ack the latest book after this long without a new one (0: never). */
      idleAckMs?: number;
      concurrency?: number;
      hold?: boolean;
    },
  ): Promise<number>;
  /** Start the measurement window; returns the child's clock at the reset. */
  reset(): Promise<number>;
  report(): Promise<WsReport>;
  close(): Promise<void>;
}

/** Fork the clients process (tsx loader) and wait until it is ready. */
export async function spawnWsClients(): Promise<WsClientsProcess> {
  const link = await forkChild<Cmd>(import.meta.url);
  const call = link.call;
  return {
    pid: link.pid,
    async open(url, n, opts = {}) {
      const r = await call({
        cmd: "open",
        url,
        n,
        ackEvery: opts.ackEvery ?? 8,
        thresholdsMs: opts.thresholdsMs ?? [2_000],
        ackOnLagging: opts.ackOnLagging ?? true,
        ackOnGap: opts.ackOnGap ?? true,
        idleAckMs: opts.idleAckMs ?? 250,
        concurrency: opts.concurrency ?? 100,
        hold: opts.hold ?? false,
      });
      return r.open as number;
    },
    async reset() {
      return (await call({ cmd: "reset" })).at as number;
    },
    async report() {
      return (await call({ cmd: "report" })).report as WsReport;
    },
    close: link.close,
  };
}

if (process.argv.includes("--child")) child();
