/**
 * A lightweight-charts custom series that fills the area between `low` and `high` (the forecast's interval).
 * lightweight-charts has no band series; its documented extension point for new series types is
 * `addCustomSeries` with a pane view like this one.
 */
import {
  customSeriesDefaultOptions,
  type CustomData,
  type CustomSeriesOptions,
  type CustomSeriesPricePlotValues,
  type ICustomSeriesPaneRenderer,
  type ICustomSeriesPaneView,
  type PaneRendererCustomData,
  type PriceToCoordinateConverter,
  type Time,
  type WhitespaceData,
} from "lightweight-charts";

type CanvasRenderingTarget2D = Parameters<ICustomSeriesPaneRenderer["draw"]>[0];

export interface BandData extends CustomData<Time> {
  low: number;
  high: number;
}

export interface BandOptions extends CustomSeriesOptions {
  fillColor: string;
  edgeColor: string;
}

class BandRenderer implements ICustomSeriesPaneRenderer {
  data: PaneRendererCustomData<Time, BandData> | null = null;
  options: BandOptions | null = null;

  draw(target: CanvasRenderingTarget2D, toY: PriceToCoordinateConverter): void {
    const data = this.data;
    const opts = this.options;
    if (!data || !opts || !data.visibleRange || data.bars.length === 0) return;
    const from = Math.max(0, data.visibleRange.from - 1);
    const to = Math.min(data.bars.length, data.visibleRange.to + 1);
    const upper: [number, number][] = [];
    const lower: [number, number][] = [];
    for (let i = from; i < to; i++) {
      const b = data.bars[i]!;
      const hi = toY(b.originalData.high);
      const lo = toY(b.originalData.low);
      if (hi === null || lo === null) continue;
      upper.push([b.x, hi]);
      lower.push([b.x, lo]);
    }
    if (upper.length === 0) return;
    target.useBitmapCoordinateSpace(({ context: ctx, horizontalPixelRatio: hr, verticalPixelRatio: vr }) => {
      ctx.beginPath();
      for (const [i, [x, y]] of upper.entries()) {
        if (i === 0) ctx.moveTo(x * hr, y * vr);
        else ctx.lineTo(x * hr, y * vr);
      }
      for (let i = lower.length - 1; i >= 0; i--) ctx.lineTo(lower[i]![0] * hr, lower[i]![1] * vr);
      ctx.closePath();
      ctx.fillStyle = opts.fillColor;
      ctx.fill();
      ctx.lineWidth = Math.max(1, Math.round(hr));
      ctx.strokeStyle = opts.edgeColor;
      for (const edge of [upper, lower]) {
        ctx.beginPath();
        for (const [i, [x, y]] of edge.entries()) {
          if (i === 0) ctx.moveTo(x * hr, y * vr);
          else ctx.lineTo(x * hr, y * vr);
        }
        ctx.stroke();
      }
    });
  }
}

export class BandSeries implements ICustomSeriesPaneView<Time, BandData, BandOptions> {
  private readonly r = new BandRenderer();

  renderer(): ICustomSeriesPaneRenderer {
    return this.r;
  }

  update(data: PaneRendererCustomData<Time, BandData>, options: BandOptions): void {
    this.r.data = data;
    this.r.options = options;
  }

  priceValueBuilder(d: BandData): CustomSeriesPricePlotValues {
    return [d.low, d.high, (d.low + d.high) / 2];
  }

  isWhitespace(d: BandData | WhitespaceData<Time>): d is WhitespaceData<Time> {
    return (d as Partial<BandData>).high === undefined || (d as Partial<BandData>).low === undefined;
  }

  defaultOptions(): BandOptions {
    return { ...customSeriesDefaultOptions, fillColor: "rgba(76,154,255,0.16)", edgeColor: "rgba(76,154,255,0.45)" };
  }
}
