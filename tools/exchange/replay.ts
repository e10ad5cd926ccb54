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

/** Build one timeline from several capture files (times are made relative to each file's first event). */
export function loadTimeline(files: readonly string[]): Timeline {
  const events: ReplayEvent[] = [];
  const instruments = new Set<string>();
  const bookInstruments = new Set<string>();
  let skipped = 0;
  for (const file of files) {
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
      instruments.add(m.arg.instId);
      if (m.kind === "books") {
        bookInstruments.add(m.arg.instId);
        events.push({ t, kind: "books", instId: m.arg.instId, action: m.action, data: m.data });
      } else {
        events.push({ t, kind: "trades", instId: m.arg.instId, data: m.data });
      }
    }
  }
  // Several files replay side by side: merge by time (stable, so each file keeps its own order).
  events.sort((a, b) => a.t - b.t);
  const span = events.length ? events[events.length - 1]!.t - events[0]!.t : 0;
  return { events, span, instruments, bookInstruments, skipped };
}
