/** Small benchmark helpers: timing loops, percentiles, table output. */

export interface Result {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

/** Run `fn` repeatedly for at least `minMs` (after a warm-up) and return the mean time per call in ns. */
export function timePerCall(
  fn: () => void,
  minMs: number,
  warmupMs = Math.min(200, minMs),
): { nsPerCall: number; calls: number } {
  const until = performance.now() + warmupMs;
  while (performance.now() < until) fn();
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 16; i++) fn();
    calls += 16;
    t = performance.now();
  }
  return { nsPerCall: ((t - t0) * 1e6) / calls, calls };
}

/**
 * `timePerCall` in `rounds` rounds of `roundMs`: the median round, and the fastest and slowest. On this shared
 * 2-core VM one measurement swings by ±20 % with the machine; the median of several is the figure to report.
 */
export function medianPerCall(
  fn: () => void,
  rounds: number,
  roundMs: number,
): { nsPerCall: number; minNs: number; maxNs: number } {
  const xs: number[] = [];
  for (let r = 0; r < rounds; r++) xs.push(timePerCall(fn, roundMs, r === 0 ? Math.min(300, roundMs) : 0).nsPerCall);
  return { nsPerCall: percentile(xs, 50), minNs: Math.min(...xs), maxNs: Math.max(...xs) };
}

/** p-th percentile (0..100) of a numeric array (nearest-rank). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return String(n);
  return n >= 1000 ? Math.round(n).toLocaleString("en-US") : n.toFixed(digits);
}
