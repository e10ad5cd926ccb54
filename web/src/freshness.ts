/**
 * How old the book on screen is, and whether it is still "live" for a trader: the age is `now − ts` (browser clock
 * minus the exchange's clock of the last applied OKX message), the bound the relay's own staleness bound.
 * Pure functions over plain numbers, so the rule is testable without a browser (test/freshness.test.ts).
 */

/**
 * The relay's default staleness bound (RELAY_MAX_STALENESS_MS, src/relay/config.ts). The page only learns the
 * configured one from a `lagging` message (its `boundMs`), so it starts with the default.
 */
export const DEFAULT_STALENESS_BOUND_MS = 2_000;

/** `none`: no book yet; `fresh`: age within the bound; `stale`: older than the bound. */
export type Freshness = "none" | "fresh" | "stale";

/** Freshness of a book `ageMs` old (null: no book) against `boundMs`; exactly at the bound is still fresh. */
export function freshness(ageMs: number | null, boundMs: number): Freshness {
  if (ageMs === null || !Number.isFinite(ageMs)) return "none";
  return ageMs > boundMs ? "stale" : "fresh";
}

/**
 * The age as shown: "85 ms" below a second, "2.4 s" below a minute, "3 min 05 s" below an hour, "2 h 07 min"
 * beyond; "–" without a book. A negative age (the browser's clock behind the exchange's) shows as "0 ms": the
 * skew is not the book's age, and the page cannot tell the two apart.
 */
export function formatAge(ageMs: number | null): string {
  if (ageMs === null || !Number.isFinite(ageMs)) return "–";
  const ms = Math.max(0, Math.round(ageMs));
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3_600)} h ${String(Math.floor((s % 3_600) / 60)).padStart(2, "0")} min`;
}
