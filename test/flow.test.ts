import { describe, expect, it } from "vitest";
import { acknowledge, admit, freshFlow, isStalled, type FlowDecision, type FlowState } from "../src/relay/flow.js";
import { MAX_IN_FLIGHT } from "../src/protocol.js";

const BUDGET = 1000;

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
      "acked, one past the window: conflated",
      { acked: 10 },
      10,
      11 + MAX_IN_FLIGHT,
      "conflate",
      { pending: true, unackedBytes: 0 },
    ],
    ["already conflated: skipped, not counted again", { acked: 10, pending: true }, 10, 30, "skip", { pending: true }],
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
    expect(f).toEqual({ acked: 1, pending: false, unackedBytes: 0, pausedAt: null });
    expect(acknowledge(f, 2, 2)).toBe(false);
  });

  it("acks of future seqs are clamped to the latest seq sent", () => {
    const f = freshFlow();
    acknowledge(f, 1_000_000, 42);
    expect(f.acked).toBe(42);
    // ...so a lying client still gets the window applied from the real latest seq.
    expect(admit(f, 1, 42 + MAX_IN_FLIGHT + 1, 0, BUDGET)).toBe("conflate");
  });

  it.each([
    [null, 10_000, false],
    [0, 2_999, false],
    [0, 3_000, true],
  ])("stall: paused at %s, now %s -> %s", (pausedAt, now, want) => {
    expect(isStalled({ ...freshFlow(), pausedAt }, now, 3000)).toBe(want);
  });
});
