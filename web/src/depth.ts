/**
 * Depth chart with lightweight-charts' price-based horizontal scale (`createOptionsChart`, v5): x = price,
 * y = cumulative size, bids and asks as two stepped area series.
 *
 * lightweight-charts spaces horizontal points by INDEX, not by value, so feeding it the book's own level prices
 * would squeeze wide gaps and stretch dense runs. We therefore resample both sides onto one uniform price grid
 * (a symmetric window around the mid, as deep as the shallower side reaches) and put whitespace points across
 * the spread, which makes x linear in price again. The grid is rebuilt per update; at ~240 points that costs far
 * less than a frame, and the chart is throttled to 5 updates per second anyway (the ladder carries the
 * feed-rate detail).
 */
import {
  AreaSeries,
  ColorType,
  createOptionsChart,
  CrosshairMode,
  LineType,
  type DeepPartial,
  type IChartApiBase,
  type ISeriesApi,
  type PriceChartOptions,
  type WhitespaceData,
} from "lightweight-charts";
import type { BookMessage, WireLevel } from "../../src/protocol.js";
import { decimalsOf } from "./format.js";
import { CHART_LAYOUT, THEME } from "./theme.js";

const POINTS = 240;
const MIN_INTERVAL_MS = 200;

type Pt = { time: number; value: number } | WhitespaceData<number>;

export class DepthChart {
  private readonly chart: IChartApiBase<number>;
  private readonly bidSeries: ISeriesApi<"Area", number>;
  private readonly askSeries: ISeriesApi<"Area", number>;
  private lastAt = 0;
  private precision = -1;

  constructor(container: HTMLElement) {
    this.chart = createOptionsChart(container, {
      autoSize: true,
      layout: { ...CHART_LAYOUT, background: { type: ColorType.Solid, color: "transparent" } },
      grid: { vertLines: { color: THEME.grid }, horzLines: { color: THEME.grid } },
      rightPriceScale: { borderVisible: false, scaleMargins: { top: 0.12, bottom: 0 } },
      timeScale: { borderVisible: false, fixLeftEdge: true, fixRightEdge: true },
      crosshair: {
        mode: CrosshairMode.Magnet,
        vertLine: { labelBackgroundColor: THEME.panel2 },
        horzLine: { labelBackgroundColor: THEME.panel2 },
      },
      handleScroll: false,
      handleScale: false,
    });
    const common = {
      priceFormat: { type: "volume" as const },
      lineType: LineType.WithSteps,
      lineWidth: 2 as const,
      priceLineVisible: false,
      lastValueVisible: false,
      crosshairMarkerVisible: false,
    };
    this.bidSeries = this.chart.addSeries(AreaSeries, {
      ...common,
      lineColor: THEME.green,
      topColor: "rgba(22,199,132,0.35)",
      bottomColor: "rgba(22,199,132,0.04)",
    });
    this.askSeries = this.chart.addSeries(AreaSeries, {
      ...common,
      lineColor: THEME.red,
      topColor: "rgba(234,57,67,0.35)",
      bottomColor: "rgba(234,57,67,0.04)",
    });
  }

  clear(): void {
    this.bidSeries.setData([]);
    this.askSeries.setData([]);
    this.lastAt = 0;
  }

  /** Update from a book; throttled. Returns whether it redrew. */
  update(m: BookMessage, force = false): boolean {
    const now = performance.now();
    if (!force && now - this.lastAt < MIN_INTERVAL_MS) return false;
    this.lastAt = now;
    const grid = resample(m.bids, m.asks, POINTS);
    if (!grid) {
      this.clear();
      return true;
    }
    if (grid.decimals !== this.precision) {
      this.precision = grid.decimals;
      // The price-axis chart reads `localization.precision` for its x labels (PriceChartLocalizationOptions);
      // IChartApiBase<number>.applyOptions is typed with the generic options, hence the cast.
      const opts: DeepPartial<PriceChartOptions> = { localization: { precision: grid.decimals } };
      this.chart.applyOptions(opts as unknown as Parameters<IChartApiBase<number>["applyOptions"]>[0]);
    }
    this.bidSeries.setData(grid.bids);
    this.askSeries.setData(grid.asks);
    this.chart.timeScale().fitContent();
    return true;
  }
}

/** Resample both sides on a shared uniform price grid (see the module comment). Exported for tests. */
export function resample(
  bids: readonly WireLevel[],
  asks: readonly WireLevel[],
  points: number,
): { bids: Pt[]; asks: Pt[]; decimals: number } | null {
  if (bids.length === 0 || asks.length === 0) return null;
  const bb = Number(bids[0]![0]);
  const ba = Number(asks[0]![0]);
  const lastBid = Number(bids[bids.length - 1]![0]);
  const lastAsk = Number(asks[asks.length - 1]![0]);
  const mid = (bb + ba) / 2;
  let half = Math.min(mid - lastBid, lastAsk - mid);
  if (!(half > 0)) half = Math.max(ba - bb, mid * 1e-4);
  const lo = mid - half;
  const step = (2 * half) / points;
  const pxDec = Math.max(decimalsOf(bids[0]![0]), decimalsOf(asks[0]![0]));
  const decimals = Math.min(pxDec, 8);
  const keyDec = Math.min(pxDec + 3, 12);
  const key = (x: number) => Number(x.toFixed(keyDec));

  const bidPts: Pt[] = [];
  const askPts: Pt[] = [];
  // Bid cumulative at price x: sum of bid sizes with px >= x. Walk x upwards and bids from the deepest.
  let bi = bids.length - 1;
  let totalBid = 0;
  for (const l of bids) totalBid += Number(l[1]);
  let belowX = 0; // sum of bid sizes with px < x
  // Ask cumulative at x: sum of ask sizes with px <= x.
  let ai = 0;
  let askCum = 0;
  let lastKey = -Infinity;
  const push = (arr: Pt[], t: number, v?: number) => {
    if (t <= lastKey) return;
    lastKey = t;
    arr.push(v === undefined ? { time: t } : { time: t, value: v });
  };
  for (let k = 0; k <= points; k++) {
    const x = lo + k * step;
    const t = key(x);
    if (x <= bb) {
      while (bi >= 0 && Number(bids[bi]![0]) < x) belowX += Number(bids[bi--]![1]);
      push(bidPts, t, totalBid - belowX);
      // Close the bid curve exactly at the best bid.
      const next = lo + (k + 1) * step;
      if (next > bb) push(bidPts, key(bb), Number(bids[0]![1]));
    } else if (x < ba) {
      push(bidPts, t); // whitespace across the spread keeps x linear
    } else {
      if (askPts.length === 0) {
        // Open the ask curve exactly at the best ask.
        push(askPts, key(ba), Number(asks[0]![1]));
      }
      while (ai < asks.length && Number(asks[ai]![0]) <= x) askCum += Number(asks[ai++]![1]);
      push(askPts, t, askCum);
    }
  }
  return { bids: bidPts, asks: askPts, decimals };
}
