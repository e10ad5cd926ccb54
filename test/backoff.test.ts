import { describe, expect, it } from "vitest";
import { backoffDelay } from "../src/relay/backoff.js";

describe("backoffDelay (exponential, equal jitter, capped)", () => {
  it.each([
    [0, 0, 250],
    [0, 1, 500],
    [1, 0, 500],
    [3, 1, 4000],
    [10, 1, 30_000],
    [10, 0, 15_000],
    [1000, 1, 30_000],
  ])("attempt %i, random %d -> %i ms", (attempt, r, want) => {
    expect(backoffDelay(attempt, 500, 30_000, () => r)).toBe(want);
  });
});
