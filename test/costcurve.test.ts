/** The UI's cost-curve size grid (src/sim/curve.ts `curveSizes`, used by web/src/costcurve.ts): what the simulator panel sends as `sizes`. */
import { describe, expect, it } from "vitest";
import { MAX_CURVE_SIZES } from "../src/sim/schema.js";
import { curveSizes } from "../src/sim/curve.js";

describe("curveSizes", () => {
  it("geometric from the smallest to the largest size, sorted, unique, on the step, within the API's bound", () => {
    const s = curveSizes(250 / 64, 2000, 1);
    expect(s[0]).toBe(4);
    expect(s[s.length - 1]).toBe(2000);
    expect(s.length).toBeLessThanOrEqual(MAX_CURVE_SIZES);
    for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThan(s[i - 1]!);
    for (const x of s) expect(Number.isInteger(x)).toBe(true);
    // Geometric: the ratio of consecutive points stays near (2000/4)^(1/23) = 1.31 once rounding no longer dominates.
    expect(s[s.length - 1]! / s[s.length - 2]!).toBeCloseTo(500 ** (1 / 23), 1);
  });
  it("never below one step, and fractional steps stay exact decimals", () => {
    expect(curveSizes(0.0001, 0.5, 0.01)[0]).toBe(0.01);
    for (const x of curveSizes(0.001, 1, 0.001)) expect(String(x).length).toBeLessThan(8);
  });
});
