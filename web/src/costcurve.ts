/**
 * Cost-vs-size chart beside the simulator: the API's cost curve (`sizes` in the same request as the order, so the
 * curve and the order see the same book) drawn as inline SVG. x = order size on a log scale (the sizes are
 * geometric), y = cost in bps of the notional at mid: slippage vs mid (the book walk plus half the spread) and the
 * net cost with the taker fee. The simulated order is marked. A caption states the units; the same numbers are in
 * a visually hidden table for screen readers. Colours are SVG presentation attributes and the hidden table is styled
 * through CSSOM: the page's CSP (style-src 'self') blocks inline style attributes, not these.
 *
 * Hand-drawn SVG rather than lightweight-charts: that library spaces points by index and its horizontal scale is
 * time or price, while this chart needs a numeric log-size axis and two dozen points at most.
 */
import type { SimulateResponse } from "../../src/sim/schema.js";

export { curveSizes } from "../../src/sim/curve.js";
import { fixed, num } from "./format.js";
import { THEME } from "./theme.js";

const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 150;
const PAD = { l: 38, r: 8, t: 8, b: 22 };
const AXIS = { fill: THEME.muted, "font-size": 9, "font-family": THEME.mono };

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export class CostCurveChart {
  private readonly figure: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly caption: HTMLElement;
  private readonly table: HTMLTableElement;

  /** Creates its own `<figure>` at the end of `parent` (no markup needed in index.html). */
  constructor(parent: HTMLElement) {
    this.figure = document.createElement("figure");
    this.figure.className = "cost-curve";
    this.figure.hidden = true;
    this.svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", width: "100%" });
    this.caption = document.createElement("figcaption");
    this.caption.className = "hint";
    this.table = document.createElement("table");
    // Visually hidden, still read by screen readers.
    Object.assign(this.table.style, {
      position: "absolute",
      width: "1px",
      height: "1px",
      overflow: "hidden",
      clip: "rect(0 0 0 0)",
      whiteSpace: "nowrap",
    });
    this.figure.append(this.svg, this.caption, this.table);
    parent.append(this.figure);
  }

  clear(): void {
    this.figure.hidden = true;
  }

  /** Draw the response's cost curve (no-op without one). */
  render(r: SimulateResponse): void {
    const pts = (r.costCurve ?? []).filter((p) => p.vsMidBps !== null && p.netCostBps !== null && p.fullyFilled);
    if (pts.length < 2) {
      this.clear();
      return;
    }
    const unit =
      r.order.requestedUnit === "contracts"
        ? "contracts"
        : r.order.requestedUnit === "base"
          ? r.currencies.base
          : `${r.currencies.quote} notional`;
    const xs = pts.map((p) => Math.log10(p.requestedInRequestedUnit));
    const ys = pts.flatMap((p) => [p.vsMidBps!, p.netCostBps!]);
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs);
    const y1 = Math.max(...ys, 0.01) * 1.08;
    const sx = (v: number) => PAD.l + ((v - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
    const sy = (v: number) => H - PAD.b - (v / y1) * (H - PAD.t - PAD.b);
    const path = (key: "vsMidBps" | "netCostBps") =>
      pts.map((p, i) => `${i === 0 ? "M" : "L"}${sx(xs[i]!).toFixed(1)},${sy(p[key]!).toFixed(1)}`).join(" ");

    const kids: SVGElement[] = [];
    for (const f of [0, 0.5, 1]) {
      const v = y1 * f;
      kids.push(el("line", { x1: PAD.l, x2: W - PAD.r, y1: sy(v), y2: sy(v), stroke: THEME.grid }));
      const t = el("text", { x: PAD.l - 4, y: sy(v) + 3, "text-anchor": "end", ...AXIS });
      t.textContent = fixed(v, v < 10 ? 1 : 0);
      kids.push(t);
    }
    for (const [v, anchor] of [
      [x0, "start"],
      [x1, "end"],
    ] as const) {
      const t = el("text", { x: sx(v), y: H - 6, "text-anchor": anchor, ...AXIS });
      t.textContent = num(10 ** v, 4);
      kids.push(t);
    }
    kids.push(el("path", { d: path("netCostBps"), stroke: THEME.amber, "stroke-width": 2, fill: "none" }));
    kids.push(
      el("path", {
        d: path("vsMidBps"),
        stroke: THEME.blue,
        "stroke-width": 1.5,
        "stroke-dasharray": "4 3",
        fill: "none",
      }),
    );
    // The simulated order.
    const ord = r.order.requestedInRequestedUnit;
    if (ord > 0 && Math.log10(ord) >= x0 && Math.log10(ord) <= x1) {
      const x = sx(Math.log10(ord));
      kids.push(el("line", { x1: x, x2: x, y1: PAD.t, y2: H - PAD.b, stroke: THEME.muted, "stroke-dasharray": "2 2" }));
      kids.push(el("circle", { cx: x, cy: sy(r.netCost.bps), r: 3, fill: r.side === "buy" ? THEME.green : THEME.red }));
    }
    this.svg.replaceChildren(...kids);
    const last = pts[pts.length - 1]!;
    const label = `Cost versus order size on the book just simulated: from ${num(pts[0]!.requestedInRequestedUnit, 6)} to ${num(last.requestedInRequestedUnit, 6)} ${unit}, net cost rises from ${fixed(pts[0]!.netCostBps!, 2)} to ${fixed(last.netCostBps!, 2)} bps.`;
    this.svg.setAttribute("aria-label", label);
    this.caption.textContent = `Cost (bps of notional at mid) vs size (${unit}, log scale): amber = net incl. taker fee, dashed blue = slippage vs mid; line = this order.${r.maxSize !== null ? ` Largest size within ${r.maxSize.maxSlippageBps} bps slippage: ${num(r.maxSize.largestInRequestedUnit, 6)} ${unit}.` : ""}`;
    const head = `<tr><th scope="col">size (${unit})</th><th scope="col">slippage vs mid, bps</th><th scope="col">net cost, bps</th></tr>`;
    this.table.innerHTML = head;
    for (const p of pts) {
      const tr = document.createElement("tr");
      for (const v of [num(p.requestedInRequestedUnit, 6), fixed(p.vsMidBps!, 3), fixed(p.netCostBps!, 3)]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.append(td);
      }
      this.table.append(tr);
    }
    this.figure.hidden = false;
  }
}
