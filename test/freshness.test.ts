/** The UI's book-age rule (web/src/freshness.ts): what the book-stats show and when the link badge turns amber. */
import { describe, expect, it } from "vitest";
import { DEFAULT_STALENESS_BOUND_MS, formatAge, freshness } from "../web/src/freshness.js";
import { RELAY_DEFAULTS } from "../src/relay/config.js";

describe("freshness", () => {
  it("the UI's default bound is the relay's default RELAY_MAX_STALENESS_MS", () => {
    expect(DEFAULT_STALENESS_BOUND_MS).toBe(RELAY_DEFAULTS.maxStalenessMs);
  });
  it("fresh up to and including the bound, stale beyond it, none without a book", () => {
    expect(freshness(null, 2_000)).toBe("none");
    expect(freshness(Number.NaN, 2_000)).toBe("none");
    expect(freshness(-40, 2_000)).toBe("fresh"); // browser clock behind the exchange's
    expect(freshness(0, 2_000)).toBe("fresh");
    expect(freshness(2_000, 2_000)).toBe("fresh");
    expect(freshness(2_001, 2_000)).toBe("stale");
    expect(freshness(2_001, 5_000)).toBe("fresh"); // a `lagging` message may carry another bound
    expect(freshness(30_000, 2_000)).toBe("stale");
  });
});

describe("formatAge", () => {
  it("ms below a second, tenths (never rounded up) below a minute, then min/s and h/min", () => {
    expect(formatAge(null)).toBe("–");
    expect(formatAge(-120)).toBe("0 ms");
    expect(formatAge(0)).toBe("0 ms");
    expect(formatAge(85.4)).toBe("85 ms");
    expect(formatAge(999.4)).toBe("999 ms");
    expect(formatAge(1_000)).toBe("1.0 s");
    expect(formatAge(2_099)).toBe("2.0 s");
    expect(formatAge(2_100)).toBe("2.1 s");
    expect(formatAge(59_999)).toBe("59.9 s");
    expect(formatAge(60_000)).toBe("1 min 00 s");
    expect(formatAge(185_000)).toBe("3 min 05 s");
    expect(formatAge(3_600_000)).toBe("1 h 00 min");
    expect(formatAge(7_620_000)).toBe("2 h 07 min");
  });
});
