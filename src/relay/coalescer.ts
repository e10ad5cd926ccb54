/**
 * Book broadcasts paced by the broadcaster's own lag behind the exchange (issue #19). One part, used by the relay
 * (core.ts, behind OKX) and by every fan-out shard (shard-core.ts, behind the relay's link).
 *
 * Keeping up, every change is broadcast at once. Behind by more than `coalesceLagMs`, every change is still applied
 * by the caller but only the latest state is broadcast, at most once per interval, with a trailing flush for the
 * last change. The interval ADAPTS: it starts at `coalesceIntervalMs` and doubles at each broadcast while the lag
 * stays above the bound (up to `coalesceMaxIntervalMs`), halves while it is below, and coalescing ends when it is
 * back at the start value with the lag below the bound. A fixed interval cannot bound the lag: measured on this
 * 2-core VM, a relay with 2,000 standard-WebSocket clients through `wrangler dev` can deliver ~2.5k frames/s in all,
 * so five broadcasts a second (the fixed 200 ms) still asked for four times that and the lag grew to 3-7 s. Work per
 * second is (broadcasts per second) x (clients), so halving the rate until the lag falls finds the rate the object
 * can afford, whatever the load; the cap keeps books coming often enough for the per-client staleness bound.
 */
import type { Pacing } from "./hub.js";
import { LagTracker } from "./lag.js";

/** Coalescing settings (RelayConfig fields). */
export interface CoalesceSettings {
  /** Behind the exchange by more than this (beyond the clock offset), broadcasts are coalesced. */
  readonly coalesceLagMs: number;
  /** The first (and smallest) interval between coalesced broadcasts. */
  readonly coalesceIntervalMs: number;
  /** The largest interval the adaptation may reach. */
  readonly coalesceMaxIntervalMs: number;
  /** Behind by more than this, the owner's clients are told (`behind`): every book it sends is at least that old. */
  readonly maxStalenessMs: number;
}

/** What the coalescer needs from its owner. */
export interface CoalescerPorts {
  readonly now: () => number;
  /** Run `fn` after `ms` (the owner guards and logs it). */
  readonly defer: (ms: number, fn: () => void) => void;
  /** Broadcast the latest state now; false when there is nothing it may send (e.g. the book is resyncing). */
  readonly broadcast: (now: number) => boolean;
  /**
   * The lag went beyond `maxStalenessMs`: tell the clients (once per episode; an episode ends when the lag is back
   * under `coalesceLagMs`, so a lag hovering at the bound does not repeat the notice).
   */
  readonly behind: (lagMs: number, now: number) => void;
}

/** Outcome of one change: broadcast at once, or held for the next coalesced broadcast. */
export type CoalesceOutcome = "sent" | "held";

/** Lag-driven broadcast pacing with an adaptive interval (see the module comment). */
export class Coalescer implements Pacing {
  private readonly lag = new LagTracker();
  /** Current interval between broadcasts; 0 while keeping up (every change is broadcast). */
  private interval = 0;
  private lastBroadcastAt = Number.NEGATIVE_INFINITY;
  private dirty = false;
  private flushArmed = false;
  /** In a behind-the-bound episode (clients told). */
  private told = false;

  constructor(
    private readonly cfg: CoalesceSettings,
    private readonly ports: CoalescerPorts,
  ) {}

  /** The lag behind the exchange at the latest change (ms, clock offset removed). */
  get lagMs(): number {
    return this.lag.lagMs;
  }

  /** The interval now in force between broadcasts (0: not coalescing). */
  get intervalMs(): number {
    return this.interval;
  }

  /** A change stamped `exchangeTs` (Unix ms) was applied: broadcast it now, or hold it for the next flush. */
  onChange(exchangeTs: number): CoalesceOutcome {
    const now = this.ports.now();
    const lag = this.lag.observe(now, exchangeTs);
    if (lag > this.cfg.maxStalenessMs && !this.told) {
      this.told = true;
      this.ports.behind(lag, now);
    } else if (lag <= this.cfg.coalesceLagMs) {
      this.told = false;
    }
    this.dirty = true;
    if (this.interval === 0) {
      if (lag <= this.cfg.coalesceLagMs) return this.emit(now) ? "sent" : "held";
      this.interval = this.cfg.coalesceIntervalMs; // falling behind: start coalescing
    }
    if (now - this.lastBroadcastAt >= this.interval) {
      if (this.emit(now)) {
        this.adapt(lag);
        return "sent";
      }
      return "held";
    }
    this.armFlush(now);
    return "held";
  }

  /** True while coalescing (behind): broadcasts are paced, not immediate. */
  get coalescing(): boolean {
    return this.interval > 0;
  }

  /**
   * While coalescing, make sure a broadcast comes at the next interval even if nothing changes (a client is owed
   * the current book); keeping up, nothing to do: every change goes out at once.
   */
  poke(): void {
    if (this.interval === 0) return;
    this.dirty = true;
    this.armFlush(this.ports.now());
  }

  /** Forget the lag history and any held change (the book was dropped, or a new connection has a new offset). */
  reset(): void {
    this.lag.reset();
    this.dirty = false;
    this.interval = 0;
    this.told = false;
  }

  private emit(now: number): boolean {
    if (!this.ports.broadcast(now)) return false;
    this.dirty = false;
    this.lastBroadcastAt = now;
    return true;
  }

  /** After a coalesced broadcast: slow down while still behind, speed up (then stop coalescing) once caught up. */
  private adapt(lag: number): void {
    if (lag > this.cfg.coalesceLagMs) {
      this.interval = Math.min(this.cfg.coalesceMaxIntervalMs, this.interval * 2);
    } else {
      this.interval =
        this.interval <= this.cfg.coalesceIntervalMs ? 0 : Math.max(this.cfg.coalesceIntervalMs, this.interval / 2);
    }
  }

  private armFlush(now: number): void {
    if (this.flushArmed) return;
    this.flushArmed = true;
    this.ports.defer(Math.max(0, this.lastBroadcastAt + this.interval - now), () => {
      this.flushArmed = false;
      if (!this.dirty || this.interval === 0) return;
      const t = this.ports.now();
      if (this.emit(t)) this.adapt(this.lag.lagMs);
    });
  }
}
