/**
 * Replay timeline of a capture: the books and trades pushes of every instrument, in capture order, with their
 * capture-relative times. Parsed once at start-up; the exchange then walks it at `--speed`.
 */
import { parseOkxMessage, type OkxBookData, type OkxTradeData } from "../../src/okx/protocol.js";
import { readCapture } from "../lib/captures.js";

export type ReplayEvent =
  | { readonly t: number; readonly kind: "books"; readonly instId: string; readonly action: "snapshot" | "update"; readonly data: OkxBookData }
  | { readonly t: number; readonly kind: "trades"; readonly instId: string; readonly data: readonly OkxTradeData[] };

export interface Timeline {
  readonly events: ReplayEvent[];
  /** Seconds from the first to the last event. */
  readonly span: number;
  readonly instruments: Set<string>;
  /** Instruments that have a books stream (the others only have trades). */
  readonly bookInstruments: Set<string>;
  /** Lines that were not valid messages (counted, skipped). */
  readonly skipped: number;
}

/**
 * Build one timeline from several capture files. Files replay side by side (times relative to each file's first
 * event), except that a file sharing an instrument with an earlier file starts after that file ends: two captures
 * of the same book cannot be interleaved, but they can be played one after the other (its snapshot resets it).
 */
export function loadTimeline(files: readonly string[]): Timeline {
  const events: ReplayEvent[] = [];
  const instruments = new Set<string>();
  const bookInstruments = new Set<string>();
  const placed: { insts: Set<string>; end: number }[] = [];
  let skipped = 0;
  for (const file of files) {
    const own: ReplayEvent[] = [];
    const insts = new Set<string>();
    let t0: number | null = null;
    for (const rec of readCapture(file)) {
      if (rec.kind !== "recv") continue;
      let m;
      try {
        m = parseOkxMessage(rec.json);
      } catch {
        skipped++;
        continue;
      }
      if (m.kind !== "books" && m.kind !== "trades") continue;
      t0 ??= rec.t;
      const t = rec.t - t0;
      insts.add(m.arg.instId);
      if (m.kind === "books") {
        bookInstruments.add(m.arg.instId);
        own.push({ t, kind: "books", instId: m.arg.instId, action: m.action, data: m.data });
      } else {
        own.push({ t, kind: "trades", instId: m.arg.instId, data: m.data });
      }
    }
    let offset = 0;
    for (const p of placed) if ([...insts].some((i) => p.insts.has(i))) offset = Math.max(offset, p.end + 0.001);
    for (const e of own) events.push(offset === 0 ? e : { ...e, t: e.t + offset });
    placed.push({ insts, end: offset + (own.length ? own[own.length - 1]!.t : 0) });
    for (const i of insts) instruments.add(i);
  }
  // Merge by time (stable, so each file keeps its own order).
  events.sort((a, b) => a.t - b.t);
  const span = events.length ? events[events.length - 1]!.t - events[0]!.t : 0;
  return { events, span, instruments, bookInstruments, skipped };
}
