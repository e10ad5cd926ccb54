import { describe, expect, it } from "vitest";
import {
  acknowledge,
  admit,
  clientLag,
  freshFlow,
  isLagClosed,
  isStalled,
  settleLag,
  type FlowDecision,
  type FlowState,
} from "../src/relay/flow.js";
import { FAR_OFFSET_MS, LagTracker } from "../src/relay/lag.js";
import { MAX_IN_FLIGHT } from "../src/protocol.js";

const BUDGET = 1000;

/** `n` books in flight from seq `from` on, every `step` seqs, each current at `at`: FlowState.inFlight pairs. */
const inFlight = (from: number, n: number, step = 1, at = 0) =>
  Array.from({ length: n }, (_, i) => [from + i * step, at]).flat();

describe("flow control", () => {
  it.each<[string, Partial<FlowState>, number, number | null, FlowDecision, Partial<FlowState>]>([
    ["within budget, never acked", {}, 400, 5, "send", { unackedBytes: 400, pending: false }],
    ["exactly the budget", { unackedBytes: 600 }, 400, 5, "send", { unackedBytes: 1000 }],
    [
      "one byte over the budget pauses",
      { unackedBytes: 601 },
      400,
      5,
      "pause",
      { pausedAt: 7, pending: true, unackedBytes: 601 },
    ],
    ["paused: skipped", { pausedAt: 1, pending: true }, 10, 5, "skip", { pausedAt: 1 }],
    ["acked, inside the window", { acked: 10 }, 10, 10 + MAX_IN_FLIGHT, "send", { unackedBytes: 10 }],
    [
      "acked, MAX_IN_FLIGHT books in flight: the next is conflated",
      { acked: 10, lastSentSeq: 10 + MAX_IN_FLIGHT, inFlight: inFlight(11, MAX_IN_FLIGHT) },
      10,
      11 + MAX_IN_FLIGHT,
      "conflate",
      { pending: true, unackedBytes: 0 },
    ],
    [
      "one book short of the window: sent",
      { acked: 10, lastSentSeq: 9 + MAX_IN_FLIGHT, inFlight: inFlight(11, MAX_IN_FLIGHT - 1) },
      10,
      10 + MAX_IN_FLIGHT,
      "send",
      { lastSentSeq: 10 + MAX_IN_FLIGHT },
    ],
    [
      "the window counts books, not seqs: 3 in flight with seqs 10 apart (a coalescing shard), far past 16 seqs: sent",
      { acked: 10, lastSentSeq: 40, inFlight: inFlight(20, 3, 10) },
      10,
      50,
      "send",
      { inFlight: [...inFlight(20, 3, 10), 50, 7] },
    ],
    [
      "already conflated: skipped, not counted again",
      { acked: 10, lastSentSeq: 10 + MAX_IN_FLIGHT, inFlight: inFlight(11, MAX_IN_FLIGHT), pending: true },
      10,
      30,
      "skip",
      { pending: true },
    ],
    [
      "acked everything it was sent: the next book goes out however far the seq jumped (a shard's coalescing)",
      { acked: 8, lastSentSeq: 8 },
      10,
      30,
      "send",
      { lastSentSeq: 30, pending: false },
    ],
    ["window does not apply to seq-less data", { acked: 0 }, 10, null, "send", { unackedBytes: 10 }],
    ["never acked: no window", { acked: null }, 10, 1000, "send", { unackedBytes: 10 }],
  ])("%s", (_name, init, bytes, seq, want, after) => {
    const f = { ...freshFlow(), ...init };
    expect(admit(f, bytes, seq, 7, BUDGET)).toBe(want);
    expect(f).toMatchObject(after);
  });

  it("an ack clears the pause and the budget and asks for the latest data once", () => {
    const f = freshFlow();
    expect(admit(f, 900, 1, 0, BUDGET)).toBe("send");
    expect(admit(f, 200, 2, 50, BUDGET)).toBe("pause");
    expect(acknowledge(f, 1, 2)).toBe(true);
    expect(f).toMatchObject({ acked: 1, pending: false, unackedBytes: 0, pausedAt: null });
    expect(acknowledge(f, 2, 2)).toBe(false);
  });

  it("acks of future seqs are clamped to the latest seq (the hub answers them bad_message before this)", () => {
    const f = freshFlow();
    expect(admit(f, 1, 42, 0, BUDGET)).toBe("send");
    acknowledge(f, 1_000_000, 42);
    expect(f.acked).toBe(42);
    expect(f.inFlight).toEqual([]);
    // ...so the window applies from the real latest seq once books are in flight again.
    for (let seq = 43; seq < 43 + MAX_IN_FLIGHT; seq++) expect(admit(f, 1, seq, 0, BUDGET)).toBe("send");
    expect(admit(f, 1, 43 + MAX_IN_FLIGHT, 0, BUDGET)).toBe("conflate");
  });

  it("a client acking every 8th book on a shard whose seqs jump by 5 (coalescing) streams on, never conflated", () => {
    const f = freshFlow();
    acknowledge(f, 0, 0);
    let got = 0;
    for (let seq = 5; seq <= 500; seq += 5) {
      expect(admit(f, 1, seq, seq, 1 << 30)).toBe("send");
      if (++got % 8 === 0) acknowledge(f, seq, seq);
      expect(f.inFlight.length / 2).toBeLessThan(8);
    }
    expect(got).toBe(100);
  });

  it("in flight stays bounded for a client that does not ack yet; an ack below what was dropped keeps the older time", () => {
    const f = freshFlow();
    acknowledge(f, 0, 0);
    f.acked = null; // as before a first ack: no window applies
    for (let seq = 1; seq <= 100; seq++) expect(admit(f, 1, seq, seq * 10, 1 << 30)).toBe("send");
    expect(f.inFlight.length).toBe(2 * (MAX_IN_FLIGHT + 1));
    expect(f.inFlight.slice(0, 2)).toEqual([100 - MAX_IN_FLIGHT, (100 - MAX_IN_FLIGHT) * 10]);
    expect(f.droppedSeq).toBe(99 - MAX_IN_FLIGHT);
    expect(f.oldestUnackedAt).toBe(10);
    // Acking seq 50 confirms 1..50; 51.. are unconfirmed but 51..(dropped) are not in the list: the time stays.
    acknowledge(f, 50, 100);
    expect(f.oldestUnackedAt).toBe(10);
    // Acking past what was dropped: the oldest unconfirmed is the first book kept after the ack, exactly.
    acknowledge(f, 90, 100);
    expect(f.oldestUnackedAt).toBe(910);
    expect(f.inFlight.length / 2).toBe(10);
  });

  it.each([
    [null, 10_000, false],
    [0, 2_999, false],
    [0, 3_000, true],
  ])("stall: paused at %s, now %s -> %s", (pausedAt, now, want) => {
    expect(isStalled({ ...freshFlow(), pausedAt }, now, 3000)).toBe(want);
  });
});

describe("bounded staleness", () => {
  const BOUND = { maxStalenessMs: 2000, lagCloseMs: 30_000 };
  const BIG = 1 << 30;

  it("after a catch-up the window restarts from the catch-up book: a client acking every 8th book keeps streaming", () => {
    const f = freshFlow();
    acknowledge(f, 1, 1);
    const got: number[] = [];
    const ackEvery8 = (seq: number, latest: number) => {
      got.push(seq);
      if (got.length % 8 === 0 && acknowledge(f, seq, latest)) {
        if (admit(f, 10, latest, 0, BIG, BOUND, true) === "send") ackEvery8(latest, latest);
      }
    };
    // The client reads nothing until seq 40 was broadcast: 2..17 were sent (16 in flight), 18..40 conflated.
    for (let seq = 2; seq <= 40; seq++) if (admit(f, 10, seq, 0, BIG, BOUND) === "send") got.push(seq);
    expect(got).toEqual(Array.from({ length: MAX_IN_FLIGHT }, (_, i) => i + 2));
    // Now it reads and acks every 8th book it gets: its ack of 17 brings the latest (40) ...
    expect(acknowledge(f, 17, 40)).toBe(true);
    expect(admit(f, 10, 40, 0, BIG, BOUND, true)).toBe("send");
    expect(f.inFlight).toEqual([40, 0]); // 18..39 were never sent: not in flight
    // ... and from there it streams on: no book of 41..100 is conflated although it acks only every 8th.
    got.length = 0;
    for (let seq = 41; seq <= 100; seq++) if (admit(f, 10, seq, 0, BIG, BOUND) === "send") ackEvery8(seq, seq);
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => i + 41));
  });

  it("acks never move backwards (a late ack of an older book after a catch-up)", () => {
    const f = freshFlow();
    acknowledge(f, 30, 30);
    acknowledge(f, 12, 30);
    expect(f.acked).toBe(30);
  });

  it("a client behind the window AND beyond the bound is told it lags (staleness is checked first)", () => {
    const f = freshFlow();
    acknowledge(f, 0, 0);
    for (let seq = 1; seq <= MAX_IN_FLIGHT; seq++) expect(admit(f, 10, seq, 0, BIG, BOUND)).toBe("send");
    // Beyond the window and 2.5 s after its oldest unacknowledged book was sent:
    expect(admit(f, 10, MAX_IN_FLIGHT + 1, 2500, BIG, BOUND)).toBe("stale");
    expect(admit(f, 10, MAX_IN_FLIGHT + 2, 2600, BIG, BOUND)).toBe("skip");
  });

  it("tracks the send time of the oldest unacknowledged book; an ack of the latest clears it", () => {
    const f = freshFlow();
    acknowledge(f, 0, 0);
    expect(admit(f, 10, 1, 1000, BIG, BOUND)).toBe("send");
    expect(admit(f, 10, 2, 1500, BIG, BOUND)).toBe("send");
    expect(f.oldestUnackedAt).toBe(1000);
    expect(clientLag(f, 2500)).toBe(1500);
    // Acking seq 1 leaves seq 2 (sent at 1500) as the oldest unconfirmed.
    acknowledge(f, 1, 2);
    expect(f.oldestUnackedAt).toBe(1500);
    acknowledge(f, 2, 2);
    expect(f.oldestUnackedAt).toBeNull();
    expect(clientLag(f, 9999)).toBe(0);
  });

  it("beyond the bound: told once (stale), then skipped; the catch-up book on ack is sent and settles the lag", () => {
    const f = freshFlow();
    acknowledge(f, 0, 0);
    expect(admit(f, 10, 1, 0, BIG, BOUND)).toBe("send");
    expect(admit(f, 10, 2, 2000, BIG, BOUND)).toBe("send"); // exactly at the bound: still sent
    expect(admit(f, 10, 3, 2001, BIG, BOUND)).toBe("stale");
    expect(f).toMatchObject({ pending: true, lagSince: 2001 });
    expect(admit(f, 10, 4, 2500, BIG, BOUND)).toBe("skip");
    expect(acknowledge(f, 2, 4)).toBe(true);
    expect(admit(f, 10, 4, 2600, BIG, BOUND, true)).toBe("send");
    expect(f.oldestUnackedAt).toBe(2600);
    settleLag(f, 2600, BOUND);
    expect(f.lagSince).toBeNull();
  });

  it("a client that stays beyond the bound for lagCloseMs is to be closed", () => {
    const f = { ...freshFlow(), acked: 0, lagSince: 5000 };
    expect(isLagClosed(f, 34_999, BOUND)).toBe(false);
    expect(isLagClosed(f, 35_000, BOUND)).toBe(true);
  });

  it("non-acking clients have no measurable lag: only the budget applies", () => {
    const f = freshFlow();
    expect(admit(f, 10, 1, 0, BIG, BOUND)).toBe("send");
    expect(admit(f, 10, 2, 60_000, BIG, BOUND)).toBe("send");
    expect(admit(f, 10, 3, 120_000, BIG, BOUND)).toBe("send");
  });
});

describe("LagTracker", () => {
  it("cancels a constant clock offset and measures a growing backlog", () => {
    const t = new LagTracker(60_000, 5_000);
    // Exchange clock 30 s behind ours (a replay with original timestamps, or skew): no lag while we keep up.
    for (let i = 0; i < 100; i++) expect(t.observe(1_000_000 + i * 100, 1_000_000 - 30_000 + i * 100)).toBe(0);
    // Now each message is processed 50 ms later than the previous one's pace: the lag grows.
    let lag = 0;
    for (let i = 0; i < 20; i++) lag = t.observe(1_010_000 + i * 150, 980_000 + i * 100);
    expect(lag).toBe(19 * 50 + 30_000 - 30_000);
  });

  it("by default keeps measuring a backlog that lasts minutes (it is not taken for clock offset)", () => {
    const t = new LagTracker();
    t.observe(0, 0);
    let lag = 0;
    // 3 s behind, for five minutes.
    for (let now = 1_000; now <= 300_000; now += 100) lag = t.observe(now, now - 3_000);
    expect(lag).toBe(3_000);
  });

  it("forgets the offset after the window", () => {
    const t = new LagTracker(10_000, 1_000);
    t.observe(0, -60_000); // a replay with timestamps a minute old: offset 60 s
    expect(t.observe(5_000, -56_000)).toBe(1_000);
    expect(t.observe(20_000, -41_000)).toBe(0); // the window forgot the 60 s minimum: 61 s is the offset now
  });

  it("a positive minimum up to FAR_OFFSET_MS is lag (NTP clocks), beyond it or below zero it is clock offset", () => {
    // An object that started under load: every message so far came 1.5 s late. That is lag, not offset.
    const late = new LagTracker();
    for (let i = 0; i < 50; i++) expect(late.observe(10_000 + i * 100, 8_500 + i * 100)).toBe(1_500);
    // The exchange's clock 200 ms ahead of ours: its stamps are in our future; that is offset.
    const ahead = new LagTracker();
    expect(ahead.observe(1_000, 1_200)).toBe(0);
    expect(ahead.observe(2_000, 1_700)).toBe(500);
    // Historical timestamps (a capture replayed as recorded): an offset of a day cancels.
    const day = 86_400_000;
    const replay = new LagTracker();
    expect(replay.observe(day + 1_000, 1_000)).toBe(0);
    expect(replay.observe(day + 2_300, 2_000)).toBe(300);
    expect(FAR_OFFSET_MS).toBe(10_000);
  });
});
