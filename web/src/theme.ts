/** Colours shared by the canvas charts (kept in sync with the CSS custom properties in styles.css). */
export const THEME = {
  bg: "#0b0f14",
  panel: "#111821",
  panel2: "#1a2430",
  grid: "rgba(125,139,153,0.10)",
  text: "#d6dde6",
  muted: "#7d8b99",
  green: "#16c784",
  red: "#ea3943",
  amber: "#f0b90b",
  blue: "#4c9aff",
  mono: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace',
} as const;

/**
 * Layout options shared by every lightweight-charts chart (each adds its transparent background). The logo injects a <style> element, which our CSP
 * (style-src 'self') blocks; the attribution notice and the link to tradingview.com the licence asks for are in the
 * page footer instead.
 */
export const CHART_LAYOUT = {
  textColor: THEME.muted,
  fontFamily: THEME.mono,
  fontSize: 11,
  attributionLogo: false,
} as const;
