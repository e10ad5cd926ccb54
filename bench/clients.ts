/**
 * Load-generator clients in a child process of their own, so 1,000 sockets do not share an event loop with the
 * local exchange whose send times they are measured against. Raw-socket WebSocket clients (tools/lib/rawws.ts):
 * per book frame they only find `"seq":` and `"seqId":` in the bytes (no JSON.parse) and ack every `ackEvery`-th
 * book like a flow-controlled consumer (the relay's window is 16 unacknowledged books); like a real one they also
 * ack the latest book at once on `lagging` or `ack_required` (the relay sends nothing more until that ack) and when a
 * book stayed unacknowledged for a second. (Before 2026-12-03 evening the untracked clients did neither, so once the
 * staleness bound told them they lagged they waited for books that never came: the fan-out bench under-reported.)
 *
 * Tracked clients (`open(..., { track: true })`, the fault and soak benchmarks) also keep, per client, the last
 * book's seqId and checksum, when it last had a book and a non-live status, and verify every book against the
 * exchange's checksums the parent streams in (`checks`): a book is verified when the exchange pushed a book with
 * the same seqId and the same checksum (the OKX CRC32 of the top 25 levels), wrong when the exchange's book at
 * that seqId has another checksum.
 *
 * Parent side: `spawnClients()` forks this file under tsx and talks to it over IPC.
 */
import { okxChecksum } from "../src/okx/checksum.js";
import { openRawWs, type RawWs } from "../tools/lib/rawws.js";
import { forkChild, serveCommands } from "./child.js";

const now = () => performance.timeOrigin + performance.now();

/** One seqId's delivery record: when the last client got it, and how many did. */
export type Delivery = [seqId: number, lastAt: number, count: number];

/** The exchange's books as pushed: seqId and the CRC32 of its top 25 levels per side. */
export type Check = [seqId: number, checksum: number];

/** Per-client counters of a tracked client since it opened. */
export interface Tally {
  books: number;
  verified: number;
  /** Books whose seqId the exchange pushed with another checksum: the relay served a wrong book. */
  wrong: number;
  /** Books whose seqId the exchange never pushed (within the kept window): as bad as wrong. */
  unknown: number;
  /** Non-live status messages (resyncing, down, connecting). */
  resyncing: number;
  /** Upstream state of the last status message. */
  state: string;
  /** When the client last got a book, and last got a non-live status (Unix ms; 0: never). */
  lastBookAt: number;
  lastResyncAt: number;
  lagging: number;
  ackRequired: number;
  /** The last control messages (statuses, errors, lagging), for diagnostics: "time%100s text". */
  control: string[];
  /** Codes of `error` messages other than ack_required (e.g. unknown_instrument, fatal). */
  errors: string[];
  /** Relay seq of the newest book and whether it is acknowledged (diagnostics of a client left without books). */
  seq: number;
  unacked: number;
  /** Longest time between two verified books (or from the last one to now), ms. */
  maxNoBookMs: number;
  /** Close code (1006 for a TCP close without a close frame), null while open. */
  closed: number | null;
  lastSeqId: number | null;
  lastChecksum: number | null;
}

/** Per-client recovery after a fault at `t0`: see `recovery()`. */
export interface Recovery {
  /**
   * ms from t0 to the first verified book after the client's last non-live status (or t0 when it saw none) that
   * the exchange pushed after t0 (its seqId is not one of the `before` pushes).
   */
  recoveredMs: (number | null)[];
  /** ms from t0 to the first non-live status (null: not told). */
  toldMs: (number | null)[];
  /** Clients whose newest book is verified. */
  lastVerified: number;
}

type Cmd =
  | { cmd: "open"; url: string; n: number; ackEvery: number; track: boolean }
  | { cmd: "reset" }
  | { cmd: "report" }
  | { cmd: "checks"; rows: Check[] }
  | { cmd: "mark" }
  | { cmd: "recovery"; t0: number; before: number[] }
  | { cmd: "tally" }
  | { cmd: "levels" }
  | { cmd: "close" };

const BOOK = Buffer.from('{"type":"book"');
const SEQ = Buffer.from('"seq":');
const SEQID = Buffer.from('"seqId":');
const CHECKSUM = Buffer.from('"checksum":');

function intAt(b: Buffer, i: number): number {
  let v = 0;
  for (let c = b[i]!; c >= 48 && c <= 57; c = b[++i]!) v = v * 10 + (c - 48);
  return v;
}

/** A possibly negative integer, or null for the literal `null`. */
function signedAt(b: Buffer, i: number): number | null {
  if (b[i] === 0x6e) return null; // n(ull)
  return b[i] === 0x2d ? -intAt(b, i + 1) : intAt(b, i);
}

/** How long an unmatched book waits for the exchange's checksums to reach this process before it counts. */
const PENDING_MS = 5000;
/** Exchange checksums kept (seqIds): minutes of a ×20 replay. */
const KEEP_CHECKS = 100_000;
/** Books and statuses kept per client after a `mark`, for `recovery()`. */
const MARK_KEEP = 400;

/** A client that acks (every client of this process): its socket, newest book's seq, books since its last ack. */
interface Plain {
  ws: RawWs | null;
  seq: number;
  unacked: number;
  lastAckAt: number;
}

interface Tracked extends Plain {
  tally: Tally;
  lastVerifiedAt: number;
  lastPayload: Buffer | null;
  /** Books not yet matched against the exchange's checksums: [t, seqId, checksum]. */
  pending: [number, number, number][];
  /** Since the last mark: books [t, seqId, checksum] and non-live statuses (t). */
  markBooks: [number, number, number][];
  markStatuses: number[];
}

function child(): void {
  const sockets: RawWs[] = [];
  const tracked: Tracked[] = [];
  const plain: Plain[] = [];
  let deliveries = 0;
  let bytes = 0;
  let bySeqId = new Map<number, { t: number; count: number }>();
  /** seqId -> the checksums the exchange pushed with it (a seqId reset can make a seqId come round again). */
  const known = new Map<number, number[]>();
  const knownOrder: number[] = [];
  let marking = false;

  const verdict = (seqId: number, checksum: number): "ok" | "bad" | "unknown" => {
    const k = known.get(seqId);
    if (k === undefined) return "unknown";
    return k.includes(checksum) ? "ok" : "bad";
  };
  const onVerified = (c: Tracked, t: number) => {
    if (t <= c.lastVerifiedAt) return; // an older book matched late
    const gap = t - c.lastVerifiedAt;
    if (gap > c.tally.maxNoBookMs) c.tally.maxNoBookMs = gap;
    c.lastVerifiedAt = t;
  };
  /** Match pending books; those still unmatched after PENDING_MS count as wrong/unknown. */
  const settle = (c: Tracked, at: number) => {
    if (c.pending.length === 0) return;
    const keep: [number, number, number][] = [];
    for (const p of c.pending) {
      const v = verdict(p[1], p[2]);
      if (v === "ok") {
        c.tally.verified++;
        onVerified(c, p[0]);
      } else if (at - p[0] > PENDING_MS) {
        if (v === "bad") c.tally.wrong++;
        else c.tally.unknown++;
      } else keep.push(p);
    }
    c.pending = keep;
  };
  /** Ack the newest book; `always`: even when it was acked already (the relay asks: lagging, ack_required). */
  const ack = (c: Plain, always = false) => {
    if (!c.ws || (c.unacked === 0 && !always) || c.seq === 0) return;
    c.ws.send(`{"op":"ack","seq":${c.seq}}`);
    c.unacked = 0;
    c.lastAckAt = now();
  };
  const onTrackedFrame = (c: Tracked, payload: Buffer, t: number, ackEvery: number) => {
    if (payload.compare(BOOK, 0, BOOK.length, 0, BOOK.length) === 0) {
      const tl = c.tally;
      tl.books++;
      tl.lastBookAt = t;
      c.seq = intAt(payload, payload.indexOf(SEQ) + SEQ.length);
      const seqId = signedAt(payload, payload.indexOf(SEQID) + SEQID.length);
      const checksum = signedAt(payload, payload.lastIndexOf(CHECKSUM) + CHECKSUM.length) ?? 0;
      tl.lastSeqId = seqId;
      tl.lastChecksum = checksum;
      c.lastPayload = payload;
      if (seqId !== null) {
        const v = verdict(seqId, checksum);
        if (v === "ok") {
          tl.verified++;
          onVerified(c, t);
        } else c.pending.push([t, seqId, checksum]);
        if (marking && c.markBooks.length < MARK_KEEP) c.markBooks.push([t, seqId, checksum]);
      }
      if (++c.unacked >= ackEvery) ack(c);
      return;
    }
    // Rare control messages: parse them.
    const text = payload.toString();
    c.tally.control.push(`${(t % 100_000).toFixed(0)} ${text.slice(0, 100)}`);
    if (c.tally.control.length > 8) c.tally.control.shift();
    const m = JSON.parse(text) as { type: string; state?: string; code?: string };
    if (m.type === "status") c.tally.state = m.state ?? "?";
    if (m.type === "status" && m.state !== "live") {
      c.tally.resyncing++;
      c.tally.lastResyncAt = t;
      if (marking && c.markStatuses.length < MARK_KEEP) c.markStatuses.push(t);
    } else if (m.type === "lagging") {
      c.tally.lagging++;
      ack(c, true);
    } else if (m.type === "error" && m.code !== "ack_required") {
      c.tally.errors.push(m.code ?? "?");
    } else if (m.type === "error" && m.code === "ack_required") {
      c.tally.ackRequired++;
      ack(c, true);
    }
  };

  const onBook = (payload: Buffer, t: number, p: Plain, ackEvery: number) => {
    if (payload.compare(BOOK, 0, BOOK.length, 0, BOOK.length) !== 0) {
      // Rare control messages: the relay skips a lagging or paused client to the latest book on its next ack, so a
      // flow-controlled client acks at once when told (else, between its every-8th acks, it would wait forever).
      const m = JSON.parse(payload.toString()) as { type: string; code?: string };
      if (m.type === "lagging" || (m.type === "error" && m.code === "ack_required")) ack(p, true);
      return;
    }
    deliveries++;
    bytes += payload.length;
    const i = payload.indexOf(SEQID);
    if (i >= 0) {
      const id = intAt(payload, i + SEQID.length);
      const e = bySeqId.get(id);
      if (e) {
        e.count++;
        if (t > e.t) e.t = t;
      } else bySeqId.set(id, { t, count: 1 });
    }
    p.seq = intAt(payload, payload.indexOf(SEQ) + SEQ.length);
    if (++p.unacked >= ackEvery) ack(p);
  };

  // Flow-controlled clients ack a book left unacknowledged for a second (the relay waits for acks).
  setInterval(() => {
    const t = now();
    for (const c of tracked) if (c.unacked > 0 && t - c.lastAckAt > 1000) ack(c);
    for (const p of plain) if (p.unacked > 0 && t - p.lastAckAt > 1000) ack(p);
  }, 250).unref();

  const openTracked = async (url: string, ackEvery: number): Promise<RawWs> => {
    const t = now();
    const c: Tracked = {
      ws: null,
      tally: {
        books: 0,
        verified: 0,
        wrong: 0,
        unknown: 0,
        resyncing: 0,
        state: "",
        lastBookAt: 0,
        lastResyncAt: 0,
        lagging: 0,
        ackRequired: 0,
        errors: [],
        control: [],
        seq: 0,
        unacked: 0,
        maxNoBookMs: 0,
        closed: null,
        lastSeqId: null,
        lastChecksum: null,
      },
      seq: 0,
      unacked: 0,
      lastAckAt: t,
      lastVerifiedAt: t,
      lastPayload: null,
      pending: [],
      markBooks: [],
      markStatuses: [],
    };
    tracked.push(c);
    const ws = await openRawWs(url, (f) => {
      if (f.opcode === 1) onTrackedFrame(c, f.payload, now(), ackEvery);
      else if (f.opcode === 8) {
        // The server closed: record its code and complete the closing handshake (rawws does not answer it).
        c.tally.closed = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        c.ws?.close();
      }
    });
    c.ws = ws;
    ws.socket.on("close", () => {
      c.tally.closed ??= ws.closeCode() ?? 1006;
    });
    return ws;
  };

  serveCommands<Cmd>(async (m) => {
    if (m.cmd === "checks") {
      // fire and forget: no reply
      for (const [seqId, checksum] of m.rows) {
        const k = known.get(seqId);
        if (k) k.push(checksum);
        else known.set(seqId, [checksum]);
        knownOrder.push(seqId);
      }
      if (knownOrder.length > KEEP_CHECKS) for (const id of knownOrder.splice(0, KEEP_CHECKS / 10)) known.delete(id);
      const t = now();
      for (const c of tracked) settle(c, t);
      return;
    }
    if (m.cmd === "open") {
      for (let i = 0; i < m.n; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, m.n - i) }, () => {
            if (m.track) return openTracked(m.url, m.ackEvery);
            const p: Plain = { ws: null, seq: 0, unacked: 0, lastAckAt: now() };
            plain.push(p);
            return openRawWs(m.url, (f) => {
              if (f.opcode === 1 && p.ws) onBook(f.payload, now(), p, m.ackEvery);
            }).then((w) => (p.ws = w));
          }),
        );
        sockets.push(...batch);
      }
      return { open: sockets.length };
    } else if (m.cmd === "reset") {
      deliveries = 0;
      bytes = 0;
      bySeqId = new Map();
      return { at: now() };
    } else if (m.cmd === "report") {
      const rows: Delivery[] = [...bySeqId].map(([id, e]) => [id, e.t, e.count]);
      return {
        at: now(),
        deliveries,
        bytes,
        rows,
        closed: sockets.filter((s) => s.closeCode() !== null).length,
      };
    } else if (m.cmd === "mark") {
      for (const c of tracked) {
        c.markBooks = [];
        c.markStatuses = [];
      }
      marking = true;
      return { at: now() };
    } else if (m.cmd === "recovery") {
      const recoveredMs: (number | null)[] = [];
      const toldMs: (number | null)[] = [];
      let lastVerified = 0;
      const before = new Set(m.before);
      for (const c of tracked) {
        const statuses = c.markStatuses.filter((t) => t >= m.t0);
        const from = statuses.at(-1) ?? m.t0;
        const rec = c.markBooks.find(
          ([t, seqId, sum]) => t > from && !before.has(seqId) && verdict(seqId, sum) === "ok",
        );
        recoveredMs.push(rec ? rec[0] - m.t0 : null);
        toldMs.push(statuses.length > 0 ? statuses[0]! - m.t0 : null);
        const { lastSeqId, lastChecksum } = c.tally;
        if (lastSeqId !== null && lastChecksum !== null && verdict(lastSeqId, lastChecksum) === "ok") lastVerified++;
      }
      return { recoveredMs, toldMs, lastVerified } satisfies Recovery;
    } else if (m.cmd === "tally") {
      const t = now();
      const tallies = tracked.map((c) => {
        settle(c, t);
        const open = c.tally.closed === null ? t - c.lastVerifiedAt : 0;
        return { ...c.tally, seq: c.seq, unacked: c.unacked, maxNoBookMs: Math.max(c.tally.maxNoBookMs, open) };
      });
      return { at: t, tallies };
    } else if (m.cmd === "levels") {
      // The newest book of every client, parsed: its levels must give its checksum (OKX CRC32 of the top 25).
      let ok = 0;
      let bad = 0;
      let none = 0;
      for (const c of tracked) {
        if (!c.lastPayload) {
          none++;
          continue;
        }
        const b = JSON.parse(c.lastPayload.toString()) as {
          bids: [string, string][];
          asks: [string, string][];
          checksum: number;
        };
        const level = ([px, sz]: [string, string]) => ({ px, sz });
        if (okxChecksum(b.bids.map(level), b.asks.map(level)) === b.checksum) ok++;
        else bad++;
      }
      return { levelsOk: ok, levelsBad: bad, noBook: none };
    } else if (m.cmd === "close") {
      for (const s of sockets) s.socket.destroy();
      setTimeout(() => process.exit(0), 100); // after the reply
      return {};
    }
    return undefined;
  });
}

export interface ClientsProcess {
  readonly pid: number;
  /**
   * Open `n` clients on `url` (batches of 50). `track`: verified/wrong/resyncing bookkeeping per client (see the
   * file comment); without it only the per-seqId delivery records of the fan-out benchmark are kept.
   */
  open(url: string, n: number, ackEvery?: number, opts?: { track?: boolean }): Promise<void>;
  /** Forget deliveries so far; returns the child's clock at the reset. */
  reset(): Promise<number>;
  report(): Promise<{ at: number; deliveries: number; bytes: number; rows: Delivery[]; closed: number }>;
  /** Stream the exchange's (seqId, checksum) of pushed books to the tracked clients (no reply). */
  checks(rows: Check[]): void;
  /** Start keeping every tracked client's books and statuses for `recovery()`; returns the child's clock. */
  mark(): Promise<number>;
  /** Recovery of every tracked client from a fault injected at `t0` (after a `mark`); `before`: seqIds pushed before t0. */
  recovery(t0: number, before: number[]): Promise<Recovery>;
  tally(): Promise<{ at: number; tallies: Tally[] }>;
  /** Parse every tracked client's newest book and check its levels against its checksum. */
  levels(): Promise<{ levelsOk: number; levelsBad: number; noBook: number }>;
  close(): Promise<void>;
}

/** Fork the clients process (tsx loader) and wait until it is ready. */
export async function spawnClients(): Promise<ClientsProcess> {
  const link = await forkChild<Cmd>(import.meta.url);
  const call = link.call;
  return {
    pid: link.pid,
    async open(url, n, ackEvery = 8, opts = {}) {
      await call({ cmd: "open", url, n, ackEvery, track: opts.track ?? false });
    },
    async reset() {
      return (await call({ cmd: "reset" })).at as number;
    },
    async report() {
      return (await call({ cmd: "report" })) as never;
    },
    checks(rows) {
      if (rows.length > 0) link.post({ cmd: "checks", rows });
    },
    async mark() {
      return (await call({ cmd: "mark" })).at as number;
    },
    async recovery(t0, before) {
      return (await call({ cmd: "recovery", t0, before })) as never;
    },
    async tally() {
      return (await call({ cmd: "tally" })) as never;
    },
    async levels() {
      return (await call({ cmd: "levels" })) as never;
    },
    close: link.close,
  };
}

if (process.argv.includes("--child")) child();
