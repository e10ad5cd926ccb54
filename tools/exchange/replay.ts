/**
 * Replay timeline of a capture: the books and trades pushes of every instrument, in capture order, with their
 * capture-relative times. Parsed once at start-up; the exchange then walks it at `--speed`.
 */
import { parseOkxMessage, type OkxBookData, type OkxTradeData } from "../../src/okx/protocol.js";
import { readCapture } from "../lib/captures.js";

export type ReplayEvent =
  | {
      readonly t: number;
      readonly kind: "books";
      readonly instId: string;
      readonly action: "snapshot" | "update";
      readonly data: OkxBookData;
    }
  | { readonly t: number; readonly kind: "trades"; readonly instId: string; readonly data: readonly OkxTradeData[] };

/** Events that replay (and loop) together: one capture file, or several that share an instrument, in sequence. */
interface Track {
  readonly events: ReplayEvent[];
  readonly instruments: Set<string>;
}

export interface Timeline {
  /** Independent tracks: each loops on its own, so a 10 s capture keeps playing beside a 6-minute one. */
  readonly tracks: Track[];
  /** All events of all tracks merged by time (for inspection and stats). */
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
 * Build the replay from several capture files. Files that share no instrument become separate tracks that play
 * side by side and loop independently; a file sharing an instrument with an earlier one is appended to that
 * track after it ends (two captures of one book cannot be interleaved, but can be played one after the other:
 * the later file's snapshot resets the book).
 */
export function loadTimeline(files: readonly string[]): Timeline {
  const tracks: { events: ReplayEvent[]; instruments: Set<string>; end: number }[] = [];
  const instruments = new Set<string>();
  const bookInstruments = new Set<string>();
  let skipped = 0;
  for (const file of files) {
    const own: ReplayEvent[] = [];
    const insts = new Set<string>();
    let t0: number | null = null;
    for (const rec of readCapture(file)) {
      if (rec.kind !== "recv") continue;
      let m: ReturnType<typeof parseOkxMessage>;
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
    if (own.length === 0) continue;
    const span = own[own.length - 1]!.t;
    const shared = tracks.find((tr) => [...insts].some((i) => tr.instruments.has(i)));
    if (shared) {
      const offset = shared.end + 0.001;
      for (const e of own) shared.events.push({ ...e, t: e.t + offset });
      shared.end = offset + span;
      for (const i of insts) shared.instruments.add(i);
    } else {
      tracks.push({ events: own, instruments: insts, end: span });
    }
    for (const i of insts) instruments.add(i);
  }
  const events = tracks.flatMap((tr) => tr.events).sort((a, b) => a.t - b.t);
  const span = Math.max(0, ...tracks.map((tr) => tr.end));
  return {
    tracks: tracks.map(({ events, instruments }) => ({ events, instruments })),
    events,
    span,
    instruments,
    bookInstruments,
    skipped,
  };
}
