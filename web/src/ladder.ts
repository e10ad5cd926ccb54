/**
 * The price ladder: top N asks (best at the bottom, next to the spread) over top N bids, each row with price,
 * size and cumulative size, and a depth bar proportional to the cumulative size (scaled to the deepest visible
 * side so both sides compare).
 *
 * Built for the feed rate: the rows are created once (per N) and only their text and one transform change per
 * frame; a cell's text is written only when it differs, and the bars use `transform: scaleX()` so nothing
 * triggers layout. The caller renders at most once per animation frame.
 */
import type { BookMessage, WireLevel } from "../../src/protocol.js";
import { compact, decimalsOf, fixed } from "./format.js";

/** Price range of the last simulated fill, marked on the side it consumed. */
export interface FillMark {
  readonly side: "buy" | "sell";
  readonly best: number;
  readonly worst: number;
}

interface Row {
  readonly el: HTMLElement;
  readonly bar: HTMLElement;
  readonly px: HTMLElement;
  readonly sz: HTMLElement;
  readonly cum: HTMLElement;
  pxText: string;
  szText: string;
  cumText: string;
  scale: number;
  inFill: boolean;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function makeRow(side: "ask" | "bid"): Row {
  const row = el("div", `lrow ${side}`);
  row.setAttribute("role", "row");
  const bar = el("i", "bar");
  bar.setAttribute("aria-hidden", "true");
  const px = el("span", "px");
  const sz = el("span", "sz");
  const cum = el("span", "cum");
  for (const c of [px, sz, cum]) c.setAttribute("role", "cell");
  row.append(bar, px, sz, cum);
  return { el: row, bar, px, sz, cum, pxText: "", szText: "", cumText: "", scale: -1, inFill: false };
}

export class Ladder {
  private readonly asksEl: HTMLElement;
  private readonly bidsEl: HTMLElement;
  private readonly spreadEl: HTMLElement;
  private readonly headPx: HTMLElement;
  private readonly headSz: HTMLElement;
  private asks: Row[] = [];
  private bids: Row[] = [];
  private fill: FillMark | null = null;
  private sizeDecimals = 0;
  private priceDecimals = 0;
  private spreadText = "";
  /** Rows inside the fill mark after the last render. */
  markedRows = 0;

  constructor(
    root: HTMLElement,
    private rows: number,
  ) {
    root.setAttribute("role", "table");
    const head = el("div", "lrow head");
    head.setAttribute("role", "row");
    this.headPx = el("span", "px", "Price");
    this.headSz = el("span", "sz", "Size");
    const headCum = el("span", "cum", "Total");
    for (const c of [this.headPx, this.headSz, headCum]) c.setAttribute("role", "columnheader");
    head.append(this.headPx, this.headSz, headCum);
    const headGroup = el("div", "lhead");
    headGroup.setAttribute("role", "rowgroup");
    headGroup.append(head);
    this.asksEl = el("div", "lside asks");
    this.asksEl.setAttribute("role", "rowgroup");
    this.asksEl.setAttribute("aria-label", "Asks, best at the bottom");
    this.spreadEl = el("div", "lspread");
    this.spreadEl.setAttribute("role", "row");
    this.bidsEl = el("div", "lside bids");
    this.bidsEl.setAttribute("role", "rowgroup");
    this.bidsEl.setAttribute("aria-label", "Bids, best at the top");
    const spreadGroup = el("div", "lspread-group");
    spreadGroup.setAttribute("role", "rowgroup");
    spreadGroup.append(this.spreadEl);
    root.replaceChildren(headGroup, this.asksEl, spreadGroup, this.bidsEl);
    this.build();
  }

  setUnits(priceUnit: string, sizeUnit: string): void {
    this.headPx.textContent = `Price (${priceUnit})`;
    this.headSz.textContent = `Size (${sizeUnit})`;
  }

  setRows(n: number): void {
    if (n === this.rows) return;
    this.rows = n;
    this.build();
  }

  setFill(fill: FillMark | null): void {
    this.fill = fill;
  }

  clear(): void {
    this.build();
    this.setSpread("waiting for the book…");
  }

  private build(): void {
    this.asks = Array.from({ length: this.rows }, () => makeRow("ask"));
    this.bids = Array.from({ length: this.rows }, () => makeRow("bid"));
    this.asksEl.replaceChildren(...this.asks.map((r) => r.el));
    this.bidsEl.replaceChildren(...this.bids.map((r) => r.el));
  }

  private setSpread(text: string): void {
    if (text === this.spreadText) return;
    this.spreadText = text;
    this.spreadEl.textContent = "";
    const cell = el("span", "spread-cell", text);
    cell.setAttribute("role", "cell");
    this.spreadEl.append(cell);
  }

  render(m: BookMessage): void {
    const n = this.rows;
    // Size decimals: the finest size string among the visible levels, so the cumulative column lines up.
    // Prices and sizes are padded to the finest decimals among them so the columns line up.
    let dec = 0;
    let pdec = 0;
    for (let i = 0; i < n; i++) {
      const a = m.asks[i];
      const b = m.bids[i];
      if (a) {
        dec = Math.max(dec, decimalsOf(a[1]));
        pdec = Math.max(pdec, decimalsOf(a[0]));
      }
      if (b) {
        dec = Math.max(dec, decimalsOf(b[1]));
        pdec = Math.max(pdec, decimalsOf(b[0]));
      }
    }
    this.sizeDecimals = Math.min(dec, 8);
    this.priceDecimals = Math.min(pdec, 10);
    const askCum = cumulative(m.asks, n);
    const bidCum = cumulative(m.bids, n);
    const maxCum =
      Math.max(askCum[Math.min(n, m.asks.length) - 1] ?? 0, bidCum[Math.min(n, m.bids.length) - 1] ?? 0) || 1;
    const fill = this.fill;
    this.markedRows = 0;
    // Asks: row 0 (top) is the n-th best, row n-1 (bottom) the best.
    for (let r = 0; r < n; r++) {
      const i = n - 1 - r;
      this.paint(this.asks[r]!, m.asks[i], askCum[i], maxCum, fill !== null && fill.side === "buy");
    }
    for (let i = 0; i < n; i++)
      this.paint(this.bids[i]!, m.bids[i], bidCum[i], maxCum, fill !== null && fill.side === "sell");
    if (m.mid !== null && m.spread !== null) {
      const pxDec = Math.max(decimalsOf(m.bids[0]?.[0] ?? "0"), decimalsOf(m.asks[0]?.[0] ?? "0"));
      const bps = (m.spread / m.mid) * 1e4;
      this.setSpread(`mid ${fixed(m.mid, pxDec + 1)}   spread ${fixed(m.spread, pxDec)} (${fixed(bps, 2)} bps)`);
    } else {
      this.setSpread("one side of the book is empty");
    }
  }

  private paint(
    row: Row,
    level: WireLevel | undefined,
    cum: number | undefined,
    maxCum: number,
    fillSide: boolean,
  ): void {
    const pxText = level ? pad(level[0], this.priceDecimals) : "";
    const szText = level ? pad(level[1], this.sizeDecimals) : "";
    const cumText = level && cum !== undefined ? compact(cum, this.sizeDecimals) : "";
    if (pxText !== row.pxText) row.px.textContent = row.pxText = pxText;
    if (szText !== row.szText) row.sz.textContent = row.szText = szText;
    if (cumText !== row.cumText) row.cum.textContent = row.cumText = cumText;
    const scale = level && cum !== undefined ? Math.round((cum / maxCum) * 1000) / 1000 : 0;
    if (scale !== row.scale) {
      row.scale = scale;
      row.bar.style.transform = `scaleX(${scale})`;
    }
    let inFill = false;
    if (fillSide && level && this.fill) {
      const px = Number(level[0]);
      const lo = Math.min(this.fill.best, this.fill.worst);
      const hi = Math.max(this.fill.best, this.fill.worst);
      inFill = px >= lo && px <= hi;
    }
    if (inFill) this.markedRows++;
    if (inFill !== row.inFill) {
      row.inFill = inFill;
      row.el.classList.toggle("in-fill", inFill);
      if (inFill) row.el.setAttribute("aria-description", "consumed by the last simulated order");
      else row.el.removeAttribute("aria-description");
    }
  }
}

/** Right-pad a decimal string with zeros to `d` decimals (display only; no float round trip). */
function pad(s: string, d: number): string {
  if (d === 0 || /e/i.test(s)) return s;
  const cur = decimalsOf(s);
  if (cur >= d) return s;
  return (cur === 0 ? `${s}.` : s) + "0".repeat(d - cur);
}

function cumulative(levels: readonly WireLevel[], n: number): number[] {
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < Math.min(n, levels.length); i++) {
    s += Number(levels[i]![1]);
    out.push(s);
  }
  return out;
}
