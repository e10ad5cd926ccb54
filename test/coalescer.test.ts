/** Broadcast pacing by lag (src/relay/coalescer.ts) with a fake clock. */
import { describe, expect, it } from "vitest";
import { type CoalesceSettings, Coalescer } from "../src/relay/coalescer.js";

const CFG: CoalesceSettings = {
  coalesceLagMs: 1_000,
  coalesceIntervalMs: 200,
  coalesceMaxIntervalMs: 1_000,
  maxStalenessMs: 2_000,
};

/** A coalescer on a fake clock; `cost` ms pass inside every broadcast (the object's work per broadcast). */
function rig(cfg: CoalesceSettings = CFG, cost = 0) {
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const sent: number[] = [];
  const told: { lagMs: number; at: number }[] = [];
  let canSend = true;
  const c = new Coalescer(cfg, {
    now: () => now,
    defer: (ms, fn) => timers.push({ at: now + ms, fn }),
    broadcast: (t) => {
      if (!canSend) return false;
      sent.push(t);
      now += cost;
      return true;
    },
    behind: (lagMs, at) => told.push({ lagMs, at }),
  });
  /** Move the clock to `t`, firing the timers due on the way (in due order). */
  const runTo = (t: number) => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > t) break;
      timers.shift();
      now = Math.max(now, next.at);
      next.fn();
    }
    now = Math.max(now, t);
  };
  return {
    c,
    sent,
    told,
    timers,
    runTo,
    get now() {
      return now;
    },
    set canSend(v: boolean) {
      canSend = v;
    },
  };
}

describe("Coalescer", () => {
  it("keeping up, every change is broadcast at once", () => {
    const r = rig();
    for (let i = 0; i < 50; i++) {
      r.runTo(i * 100);
      expect(r.c.onChange(i * 100 + 30)).toBe("sent"); // the exchange's clock 30 ms ahead of ours: not lag
    }
    expect(r.sent).toHaveLength(50);
    expect(r.c.intervalMs).toBe(0);
    expect(r.c.lagMs).toBe(0);
  });

  it("behind, it holds changes, flushes the latest once per interval, and the interval doubles up to the cap", () => {
    const r = rig();
    r.runTo(0);
    r.c.onChange(0); // the offset: 0
    // From t = 2 s on, messages stamped 1.5 s earlier keep arriving every 50 ms: 1.5 s behind, beyond 1 s.
    const outcomes: string[] = [];
    for (let t = 2_000; t <= 6_000; t += 50) {
      r.runTo(t);
      outcomes.push(r.c.onChange(t - 1_500));
    }
    const gaps = r.sent.slice(1).map((t, i) => t - r.sent[i]!);
    // The first one behind goes at once (the last broadcast was 2 s ago), then 400, 800, then the 1 s cap.
    expect(gaps).toEqual([2_000, 400, 800, 1_000, 1_000]);
    expect(r.c.intervalMs).toBe(1_000);
    // Only the first went out from onChange; the rest were held and went out in the flushes.
    expect(outcomes.filter((o) => o === "sent")).toHaveLength(1);
    // Caught up again: the interval halves at each broadcast (1 s, 500, 250, 200), then every change goes at once.
    const before = r.sent.length;
    for (let t = 6_050; t <= 9_000; t += 50) {
      r.runTo(t);
      if (r.c.intervalMs === 0) break;
      r.c.onChange(t);
    }
    expect(r.c.intervalMs).toBe(0);
    expect(
      r.sent
        .slice(before - 1)
        .slice(1)
        .map((t, i) => t - r.sent[before - 1 + i]!),
    ).toEqual([1_000, 500, 250, 200]);
    r.runTo(r.now + 50);
    expect(r.c.onChange(r.now)).toBe("sent");
  });

  it("a trailing flush sends the last held change when no more changes come", () => {
    const r = rig();
    r.c.onChange(0);
    r.runTo(5_000);
    expect(r.c.onChange(3_000)).toBe("sent"); // 2 s behind: coalescing starts, this one goes at once
    r.runTo(5_010);
    expect(r.c.onChange(3_010)).toBe("held");
    expect(r.c.onChange(3_020)).toBe("held");
    expect(r.sent).toEqual([0, 5_000]);
    r.runTo(5_399);
    expect(r.sent).toEqual([0, 5_000]);
    r.runTo(5_400); // 400 ms after the last broadcast (the interval doubled to 400 when it went out)
    expect(r.sent).toEqual([0, 5_000, 5_400]);
    r.runTo(10_000);
    expect(r.sent).toHaveLength(3); // nothing held: no further flush
  });

  it("poke: keeping up it does nothing; coalescing it brings a broadcast at the next interval without a change", () => {
    const r = rig();
    r.c.onChange(0);
    r.c.poke();
    r.runTo(10_000);
    expect(r.sent).toEqual([0]);
    expect(r.c.coalescing).toBe(false);
    r.c.onChange(8_000); // 2 s behind: goes at once, the interval doubles to 400
    expect(r.c.coalescing).toBe(true);
    r.c.poke();
    r.runTo(10_399);
    expect(r.sent).toEqual([0, 10_000]);
    r.runTo(10_400);
    expect(r.sent).toEqual([0, 10_000, 10_400]);
  });

  it("a flush while the owner cannot send (book resyncing) sends nothing; reset forgets the held change and the lag", () => {
    const r = rig();
    r.c.onChange(0);
    r.runTo(5_000);
    r.c.onChange(3_000);
    r.runTo(5_010);
    r.c.onChange(3_010);
    r.canSend = false;
    r.runTo(6_000);
    expect(r.sent).toEqual([0, 5_000]);
    r.c.reset();
    expect(r.c.lagMs).toBe(0);
    expect(r.c.intervalMs).toBe(0);
    r.canSend = true;
    r.runTo(7_000);
    expect(r.c.onChange(4_000)).toBe("sent"); // a new offset after the reset: not behind
  });

  it("behind by more than the staleness bound, the owner is told once per episode; the episode ends below the trigger", () => {
    const r = rig();
    r.c.onChange(0);
    const at = (now: number, lag: number) => {
      r.runTo(now);
      r.c.onChange(now - lag);
    };
    at(1_000, 1_500); // behind, within the bound: coalescing, nobody told
    expect(r.told).toEqual([]);
    at(2_000, 2_500);
    at(2_050, 2_600);
    at(2_100, 1_800); // back within the bound but still over the trigger: same episode
    at(2_150, 2_200);
    expect(r.told).toEqual([{ lagMs: 2_500, at: 2_000 }]);
    at(3_000, 900); // under the trigger: the episode ends
    at(4_000, 2_100);
    expect(r.told).toEqual([
      { lagMs: 2_500, at: 2_000 },
      { lagMs: 2_100, at: 4_000 },
    ]);
    r.c.reset(); // a new connection: a new episode may be told at once
    r.c.onChange(r.now);
    at(5_000, 3_000);
    expect(r.told).toHaveLength(3);
  });

  /**
   * A starved object: a message every 50 ms of exchange time; processing one costs nothing, but a broadcast costs
   * 600 ms of the object's time (it can afford fewer than two a second). Messages wait in the inbound queue while
   * a broadcast runs, exactly as on a saturated workerd thread.
   */
  function starve(cfg: CoalesceSettings, seconds: number) {
    const r = rig(cfg, 600);
    const lags: { at: number; lag: number }[] = [];
    for (let i = 0; i * 50 <= seconds * 1_000; i++) {
      const ts = i * 50;
      r.runTo(ts); // the message is processed when it has arrived and the object is free (timers first)
      r.c.onChange(ts);
      lags.push({ at: ts, lag: r.now - ts });
    }
    return { lags, backlogMs: r.now - seconds * 1_000, r };
  }

  it("with the adaptive interval a starved object's lag stays bounded; a fixed interval's grows without end", () => {
    const adaptive = starve(CFG, 120);
    const late = adaptive.lags.filter((l) => l.at >= 30_000);
    // Bound: lag that triggers coalescing + the slowest interval + one broadcast's cost.
    expect(Math.max(...late.map((l) => l.lag))).toBeLessThanOrEqual(1_000 + 1_000 + 600);
    expect(adaptive.backlogMs).toBeLessThan(2_600);
    // The counterfactual: the old fixed 200 ms interval (cap = start) falls further behind every second.
    const fixed = starve({ ...CFG, coalesceMaxIntervalMs: 200 }, 120);
    expect(fixed.backlogMs).toBeGreaterThan(60_000);
  });
});
