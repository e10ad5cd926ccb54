import { describe, expect, it } from "vitest";
import { reserveSlot, type SlotLimiter } from "../src/relay/ratelimit.js";

describe("reserveSlot (3 connections / s)", () => {
  it("grants 3 immediately, then queues the rest one window later", () => {
    const l: SlotLimiter = { granted: [] };
    const got = Array.from({ length: 8 }, () => reserveSlot(l, 1000, 3));
    expect(got).toEqual([1000, 1000, 1000, 2000, 2000, 2000, 3000, 3000]);
  });

  it.each([
    ["spread requests never wait", [0, 400, 800, 1200, 1600], [0, 400, 800, 1200, 1600]],
    ["a burst after quiet time is free again", [0, 0, 0, 5000, 5000, 5000], [0, 0, 0, 5000, 5000, 5000]],
    ["4th within the window waits for the 1st to age out", [0, 100, 200, 300], [0, 100, 200, 1000]],
  ])("%s", (_n, nows, want) => {
    const l: SlotLimiter = { granted: [] };
    expect(nows.map((t) => reserveSlot(l, t, 3))).toEqual(want);
  });

  it("never puts more than 3 slots in any 1 s window (randomised)", () => {
    const l: SlotLimiter = { granted: [] };
    const slots: number[] = [];
    let now = 0;
    for (let i = 0; i < 500; i++) {
      now += Math.floor(Math.random() * 400);
      slots.push(reserveSlot(l, now, 3));
    }
    slots.sort((a, b) => a - b);
    for (let i = 3; i < slots.length; i++) expect(slots[i]! - slots[i - 3]!).toBeGreaterThanOrEqual(1000);
  });
});
