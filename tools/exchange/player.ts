/**
 * The replay clock: walks each track of a timeline at `speed` x the captured pace, each on its own clock, looping
 * independently (a 10 s capture keeps playing beside a 6-minute one). It only decides WHEN an event is due; what an
 * event does (book, pushes) is the exchange's `emit`.
 */
import type { ReplayEvent, Timeline } from "./replay.js";

interface PlayerOptions {
  /** Pace multiplier (> 0; Infinity = as fast as possible, yielding to the event loop every 2,000 events). */
  readonly speed: number;
  readonly loop: boolean;
  /** Keep captured timestamps (else each loop is shifted so its first book carries the current time). */
  readonly originalTimestamps: boolean;
  /** An event is due; `tsOffset` is added to its exchange timestamps. */
  readonly emit: (ev: ReplayEvent, tsOffset: number) => void;
  /** A track starts over: its instruments' books must be rebuilt from the next snapshot. */
  readonly onRestart: (instruments: ReadonlySet<string>) => void;
  readonly log: (line: string) => void;
}

export interface Player {
  /** Events emitted in the current loop, summed over tracks. */
  position(): number;
  /** Restarts so far (all tracks). */
  loops(): number;
  stop(): void;
}

interface TrackState {
  readonly events: ReplayEvent[];
  readonly instruments: Set<string>;
  position: number;
  /** performance.now() at the start of this loop. */
  base: number;
  done: boolean;
  /** Added to every captured ts of this loop (0 with originalTimestamps). */
  tsOffset: number;
}

function firstBookTs(events: readonly ReplayEvent[]): number {
  for (const e of events) if (e.kind === "books") return +e.data.ts;
  return Date.now();
}

/** Start playing `timeline` now. */
export function startPlayer(timeline: Timeline, o: PlayerOptions): Player {
  const offsetFor = (events: readonly ReplayEvent[]) => (o.originalTimestamps ? 0 : Date.now() - firstBookTs(events));
  const tracks: TrackState[] = timeline.tracks.map((tr) => ({
    ...tr,
    position: 0,
    base: performance.now(),
    done: false,
    tsOffset: offsetFor(tr.events),
  }));
  let loops = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const dueAt = (tr: TrackState) => tr.base + (tr.events[tr.position]!.t * 1000) / o.speed;

  function restart(tr: TrackState): void {
    tr.position = 0;
    tr.base = performance.now();
    tr.tsOffset = offsetFor(tr.events);
    loops++;
    o.onRestart(tr.instruments);
    o.log(`replay loop (${[...tr.instruments].join(", ")})`);
  }

  function tick(): void {
    timer = undefined;
    if (stopped) return;
    const now = performance.now();
    let next = Infinity;
    for (const tr of tracks) {
      if (tr.done) continue;
      let budget = 2000; // yield to the event loop regularly even at infinite speed
      while (tr.position < tr.events.length && budget-- > 0) {
        if (dueAt(tr) > now) break;
        o.emit(tr.events[tr.position++]!, tr.tsOffset);
      }
      if (tr.position >= tr.events.length) {
        if (!o.loop) {
          tr.done = true;
          o.log(`replay finished (${[...tr.instruments].join(", ")})`);
          continue;
        }
        restart(tr);
      }
      next = Math.min(next, dueAt(tr));
    }
    if (next === Infinity) return;
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  }

  tick();
  return {
    position: () => tracks.reduce((n, t) => n + t.position, 0),
    loops: () => loops,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
