/**
 * Online calibration of a forecast band by adaptive conformal inference (Gibbs & Candès, 2021), one tracker per
 * side, on the band's log-scale: with c = (low + high) / 2 the served band is
 *   low' = c - e^a (c - low),  high' = c + e^b (high - c)
 * and after each REALISED outcome (feedback arrives a horizon later; see engine.ts)
 *   a += gamma (1[y < low'] - 0.1),  b += gamma (1[y > high'] - 0.1).
 * The long-run share of outcomes below low' (above high') then tends to 10 % whatever the venue or regime, as long
 * as the scale stays bounded (it is clamped to e^±5). training/multi.py `aci` is the same rule, used offline.
 */

export interface ConformalOptions {
  /** Step size (default 0.01). */
  readonly gamma?: number;
  /** Target share below low / above high (default 0.1 / 0.1). */
  readonly lowMiss?: number;
  readonly highMiss?: number;
  /** |log-scale| bound (default 5). */
  readonly clamp?: number;
}

export interface ConformalState {
  readonly gamma: number;
  readonly lowMiss: number;
  readonly highMiss: number;
  readonly clamp: number;
  /** Log-scales of the lower and upper half-bands. */
  a: number;
  b: number;
  updates: number;
}

/** A tracker that starts by serving the band as given (scale 1). */
export function createConformal(o: ConformalOptions = {}): ConformalState {
  return {
    gamma: o.gamma ?? 0.01,
    lowMiss: o.lowMiss ?? 0.1,
    highMiss: o.highMiss ?? 0.1,
    clamp: o.clamp ?? 5,
    a: 0,
    b: 0,
    updates: 0,
  };
}

/** The calibrated band for a raw [low, high] (bps). A reversed raw band is reordered first. */
export function calibrate(s: ConformalState, low: number, high: number): { low: number; high: number } {
  const lo = Math.min(low, high);
  const hi = Math.max(low, high);
  const c = (lo + hi) / 2;
  return { low: c - Math.exp(s.a) * (c - lo), high: c + Math.exp(s.b) * (hi - c) };
}

/** Learn from one realised outcome `y` of a band that was served as [servedLow, servedHigh]. */
export function conformalUpdate(s: ConformalState, y: number, servedLow: number, servedHigh: number): void {
  const clamp = (v: number) => Math.min(s.clamp, Math.max(-s.clamp, v));
  s.a = clamp(s.a + s.gamma * ((y < servedLow ? 1 : 0) - s.lowMiss));
  s.b = clamp(s.b + s.gamma * ((y > servedHigh ? 1 : 0) - s.highMiss));
  s.updates++;
}
