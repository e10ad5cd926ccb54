/**
 * Mid-price chart (lightweight-charts, time axis in exchange time, UTC): the live mid sampled per second, and the
 * forecast plotted where it applies — at forecast time + horizon (60 s ahead of the book it was made on) — as a
 * dashed line inside its interval band (custom series, band.ts).
 *
 * lightweight-charts spaces points by index, so a second without a book change (or a forecast every few seconds)
 * would compress the axis. An invisible series holds one whitespace point per second from the first sample to the
 * furthest forecast, which keeps x linear in time. The exchange clock can jump backwards (the local exchange
 * loops its replay): the chart then starts over.
 */
import {
  ColorType,
  createChart,
  CrosshairMode,
  LineSeries,
  LineStyle,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import type { HorizonForecast } from "../../src/protocol.js";
import { BandSeries, type BandData, type BandOptions } from "./band.js";
import { CHART_LAYOUT, THEME } from "./theme.js";

/** Keep at most this many seconds of history; trimmed in batches. */
const MAX_SECONDS = 2 * 3600;
/** Largest gap filled with per-second whitespace (seconds). */
const MAX_FILL = 600;

export class MidChart {
  private readonly chart: IChartApi;
  private readonly axis: ISeriesApi<"Line">;
  private readonly mid: ISeriesApi<"Line">;
  private readonly pred: ISeriesApi<"Line">;
  private readonly band: ISeriesApi<"Custom", Time, BandData | { time: Time }, BandOptions>;
  private axisFirst: number | null = null;
  private axisLast: number | null = null;
  private midLast: number | null = null;
  private predLast: number | null = null;
  private midPoints: { time: UTCTimestamp; value: number }[] = [];
  private predPoints: { time: UTCTimestamp; value: number }[] = [];
  private bandPoints: BandData[] = [];
  private precision = -1;
  private autoFit = true;

  constructor(container: HTMLElement) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: { ...CHART_LAYOUT, background: { type: ColorType.Solid, color: "transparent" } },
      grid: { vertLines: { color: THEME.grid }, horzLines: { color: THEME.grid } },
      rightPriceScale: { borderVisible: false, scaleMargins: { top: 0.1, bottom: 0.1 } },
      timeScale: {
        borderVisible: false,
        timeVisible: true,
        secondsVisible: true,
        rightOffset: 2,
        shiftVisibleRangeOnNewBar: true,
      },
      crosshair: {
        mode: CrosshairMode.Normal,
        vertLine: { labelBackgroundColor: THEME.panel2 },
        horzLine: { labelBackgroundColor: THEME.panel2 },
      },
      localization: { locale: "en-US" },
    });
    this.axis = this.chart.addSeries(LineSeries, {
      color: "rgba(0,0,0,0)",
      lastValueVisible: false,
      priceLineVisible: false,
      crosshairMarkerVisible: false,
    });
    this.band = this.chart.addCustomSeries(new BandSeries(), {
      lastValueVisible: false,
      priceLineVisible: false,
      title: "",
    });
    this.pred = this.chart.addSeries(LineSeries, {
      color: THEME.blue,
      lineWidth: 2,
      lineStyle: LineStyle.Dashed,
      lastValueVisible: true,
      priceLineVisible: false,
      title: "forecast",
    });
    this.mid = this.chart.addSeries(LineSeries, {
      color: THEME.text,
      lineWidth: 2,
      lastValueVisible: true,
      priceLineVisible: true,
      priceLineColor: THEME.muted,
      priceLineStyle: LineStyle.Dotted,
      title: "mid",
    });
    // The user scrolled or zoomed: stop auto-fitting.
    const stopFit = () => {
      this.autoFit = false;
    };
    container.addEventListener("wheel", stopFit, { passive: true });
    container.addEventListener("pointerdown", stopFit);
  }

  setPrecision(decimals: number): void {
    if (decimals === this.precision) return;
    this.precision = decimals;
    const priceFormat = { type: "price" as const, precision: decimals, minMove: 10 ** -decimals };
    this.mid.applyOptions({ priceFormat });
    this.pred.applyOptions({ priceFormat });
  }

  /** Forget the drawn forecasts (e.g. the horizon shown changed); the mid line stays. */
  clearPredictions(): void {
    this.predPoints = [];
    this.bandPoints = [];
    this.pred.setData([]);
    this.band.setData([]);
    this.predLast = null;
  }

  clear(): void {
    this.axis.setData([]);
    this.mid.setData([]);
    this.pred.setData([]);
    this.band.setData([]);
    this.axisFirst = this.axisLast = this.midLast = this.predLast = null;
    this.midPoints = [];
    this.predPoints = [];
    this.bandPoints = [];
    this.autoFit = true;
  }

  /** Debug/test view: x coordinate of an exchange time (s), and point counts. */
  probe(t: number): { x: number | null; mid: number; pred: number; axisFirst: number | null; axisLast: number | null } {
    return {
      x: this.chart.timeScale().timeToCoordinate(t as UTCTimestamp),
      mid: this.midPoints.length,
      pred: this.predPoints.length,
      axisFirst: this.axisFirst,
      axisLast: this.axisLast,
    };
  }

  /** Re-enable auto-fit (double-click, or after an instrument switch). */
  fit(): void {
    this.autoFit = true;
    this.chart.timeScale().fitContent();
  }

  /** A book at exchange time `tsMs` with mid `value`. */
  addMid(tsMs: number, value: number): void {
    const t = Math.floor(tsMs / 1000);
    if (this.midLast !== null && t < this.midLast) {
      if (t < this.midLast - 2)
        this.clear(); // the exchange clock went back (replay loop): start over
      else return;
    }
    this.extendAxis(t);
    const p = { time: t as UTCTimestamp, value };
    if (this.midLast === t) this.midPoints[this.midPoints.length - 1] = p;
    else this.midPoints.push(p);
    this.mid.update(p);
    this.midLast = t;
  }

  /** Draw one horizon's forecast made at exchange time `ts` (plotted at ts + horizon). */
  addPrediction(ts: number, m: HorizonForecast): void {
    const t = Math.floor(ts / 1000) + Math.round(m.horizonSec);
    if (this.predLast !== null && t < this.predLast) {
      if (t < this.predLast - 2) {
        // Forecast clock went back (replay loop): drop the old forecasts only.
        this.predPoints = [];
        this.bandPoints = [];
        this.pred.setData([]);
        this.band.setData([]);
        this.predLast = null;
      } else return;
    }
    this.extendAxis(t);
    const p = { time: t as UTCTimestamp, value: m.predictedMid };
    const b: BandData = { time: t as UTCTimestamp, low: m.low, high: m.high };
    if (this.predLast === t) {
      this.predPoints[this.predPoints.length - 1] = p;
      this.bandPoints[this.bandPoints.length - 1] = b;
    } else {
      this.predPoints.push(p);
      this.bandPoints.push(b);
    }
    this.pred.update(p);
    this.band.update(b);
    this.predLast = t;
  }

  private extendAxis(t: number): void {
    if (this.axisLast !== null && t <= this.axisLast) return;
    const start = this.axisLast === null ? t : Math.max(this.axisLast + 1, t - MAX_FILL);
    if (this.axisFirst === null) this.axisFirst = start;
    for (let s = start; s <= t; s++) this.axis.update({ time: s as UTCTimestamp });
    this.axisLast = t;
    if (this.axisFirst !== null && t - this.axisFirst > MAX_SECONDS * 1.25) this.trim(t - MAX_SECONDS);
    // Fit everything for the first 10 minutes; after that the chart scrolls with new points (user zoom wins).
    if (this.autoFit && t - this.axisFirst! < 600) this.chart.timeScale().fitContent();
  }

  private trim(from: number): void {
    this.midPoints = this.midPoints.filter((p) => p.time >= from);
    this.predPoints = this.predPoints.filter((p) => p.time >= from);
    this.bandPoints = this.bandPoints.filter((p) => (p.time as number) >= from);
    const axis: { time: UTCTimestamp }[] = [];
    for (let s = from; s <= this.axisLast!; s++) axis.push({ time: s as UTCTimestamp });
    this.axis.setData(axis);
    this.mid.setData(this.midPoints);
    this.pred.setData(this.predPoints);
    this.band.setData(this.bandPoints);
    this.axisFirst = from;
  }
}
