/**
 * How far the relay is behind the exchange. `now - ts` mixes the relay's lag with the offset between the two
 * clocks (and, for a replay with original timestamps, the capture's age), so the lag is `now - ts` minus the clock
 * offset, estimated from the minimum of `now - ts` over a recent window: a constant offset cancels, a growing
 * backlog does not. The window is kept as per-bucket minima, so memory is constant.
 *
 * A positive minimum up to FAR_OFFSET_MS is NOT taken for offset: OKX and Cloudflare keep NTP time (milliseconds
 * apart), so an object whose every message so far arrived 1.5 s late (one that started under load, like a fan-out
 * shard created in a connect burst) is 1.5 s behind, and subtracting that would hide it (measured: 750 clients of
 * three such shards got 3.3 s old books untold). Only a minimum beyond it (a replay with historical timestamps, a
 * broken clock) or below zero (our clock behind the exchange's) is an offset.
 */

/** A positive minimum of `now - ts` up to this is lag, not clock offset. */
export const FAR_OFFSET_MS = 10_000;

/** Windowed-minimum lag estimator. */
export class LagTracker {
  private readonly buckets: { start: number; min: number }[] = [];
  /** The latest lag estimate (ms, >= 0). */
  lagMs = 0;

  /**
   * The window must outlast any overload: a relay behind by 3 s for longer than the window would take those 3 s for
   * clock offset and believe it had caught up (the first version's 60 s did exactly that in a long overload). A new
   * connection, where the offset may change, resets the tracker, so the window only has to cover slow drift of the
   * two clocks: 10 minutes, in 30 s buckets (20 minima).
   */
  constructor(
    private readonly windowMs = 600_000,
    private readonly bucketMs = 30_000,
  ) {}

  /** Record a message stamped `exchangeTs` (Unix ms) processed at `now`; returns the lag estimate. */
  observe(now: number, exchangeTs: number): number {
    const d = now - exchangeTs;
    const start = now - (now % this.bucketMs);
    const last = this.buckets.at(-1);
    if (last && last.start === start) last.min = Math.min(last.min, d);
    else this.buckets.push({ start, min: d });
    while (this.buckets.length > 0 && this.buckets[0]!.start <= now - this.windowMs) this.buckets.shift();
    let min = d;
    for (const b of this.buckets) if (b.min < min) min = b.min;
    const offset = min > 0 && min <= FAR_OFFSET_MS ? 0 : min;
    this.lagMs = Math.max(0, d - offset);
    return this.lagMs;
  }

  /** Forget the history (a new connection may have a different offset). */
  reset(): void {
    this.buckets.length = 0;
    this.lagMs = 0;
  }
}
