/** Number formatting with cached Intl formatters (the ladder formats ~100 numbers per frame). */

const cache = new Map<string, Intl.NumberFormat>();

function nf(min: number, max: number, grouping = true): Intl.NumberFormat {
  const key = `${min}|${max}|${grouping}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat("en-US", {
      minimumFractionDigits: min,
      maximumFractionDigits: max,
      useGrouping: grouping,
    });
    cache.set(key, f);
  }
  return f;
}

export const DASH = "—";

/** Fixed decimals with thousands separators; "—" for null/NaN. */
export function fixed(n: number | null | undefined, decimals: number): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  return nf(decimals, decimals).format(n);
}

/** Up to `max` decimals (trailing zeros dropped). */
export function num(n: number | null | undefined, max = 6): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  return nf(0, max).format(n);
}

/** Signed, fixed decimals ("+1.23" / "-0.50"). */
export function signed(n: number | null | undefined, decimals: number): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  const s = fixed(Math.abs(n), decimals);
  return n > 0 ? `+${s}` : n < 0 ? `−${s}` : s;
}

export function pct(n: number | null | undefined, decimals = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  return `${fixed(n * 100, decimals)} %`;
}

/** Compact size with fixed decimals below 100,000 (columns line up): 12,345.60 / 123,457 / 1.23M. */
export function compact(n: number, decimals: number): string {
  if (!Number.isFinite(n)) return DASH;
  const a = Math.abs(n);
  if (a >= 1e9) return `${fixed(n / 1e9, 2)}B`;
  if (a >= 1e6) return `${fixed(n / 1e6, 2)}M`;
  if (a >= 1e5) return nf(0, 0).format(n);
  return nf(decimals, decimals).format(n);
}

/** Decimal places of a decimal string ("61805.30" -> 2). */
export function decimalsOf(s: string): number {
  const i = s.indexOf(".");
  if (i < 0) return 0;
  const e = s.search(/e/i);
  return (e < 0 ? s.length : e) - i - 1;
}

/** "12:34:56.789 UTC" from Unix ms. */
export function utcTime(ms: number, withMs = true): string {
  if (!Number.isFinite(ms)) return DASH;
  const d = new Date(ms);
  const p = (v: number, w = 2) => String(v).padStart(w, "0");
  const t = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return withMs ? `${t}.${p(d.getUTCMilliseconds(), 3)}` : t;
}

export function utcDate(ms: number): string {
  if (!Number.isFinite(ms)) return DASH;
  return new Date(ms).toISOString().slice(0, 10);
}
