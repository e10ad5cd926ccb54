/**
 * Trade simulator panel: posts the CURRENT live book (levels and ts of the latest book message, exactly as the
 * relay sent them) to `POST /simulate/trade` and shows what the API returns. Validation is the API's: the size
 * goes out as typed (a number, or null when it is not one) so the server's message — not a second, possibly
 * different, client-side rule — lands next to the field named by the error's `path`.
 */
import type { BookMessage } from "../../src/protocol.js";
import { FEE_TABLE, FEE_TIERS, type FeeTier } from "../../src/sim/fees.js";
import type { SimulateResponse } from "../../src/sim/schema.js";
import { CostCurveChart, curveSizes } from "./costcurve.js";
import { fixed, num, pct, signed } from "./format.js";
import type { InstInfo } from "./instrument.js";
import type { FillMark } from "./ladder.js";

type Unit = "contracts" | "base" | "quote";
const UNIT_FIELD: Record<Unit, "contracts" | "size" | "notional"> = {
  contracts: "contracts",
  base: "size",
  quote: "notional",
};

interface ApiError {
  error: { code: string; message: string; path?: string };
}

export interface SimDeps {
  /** The latest book message, or null before the first one. */
  currentBook(): BookMessage | null;
  /** Mark (or clear) the fill range on the ladder. */
  onFill(mark: FillMark | null): void;
}

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e;
}

export class SimPanel {
  private readonly form = $("sim-form") as HTMLFormElement;
  private readonly size = $("sim-size") as HTMLInputElement;
  private readonly unit = $("sim-unit") as HTMLSelectElement;
  private readonly fee = $("sim-fee") as HTMLSelectElement;
  private readonly submit = $("sim-submit") as HTMLButtonElement;
  private readonly result = $("sim-result");
  private readonly summary = $("sim-summary");
  private readonly formError = $("sim-form-error");
  private readonly fields: Record<"size" | "side" | "fee", { input: HTMLElement; error: HTMLElement }>;
  private readonly curve = new CostCurveChart(this.result);
  private info: InstInfo | null = null;
  private busy = false;
  private seq = 0;

  constructor(private readonly deps: SimDeps) {
    this.fields = {
      size: { input: this.size, error: $("sim-size-error") },
      side: { input: $("sim-side"), error: $("sim-side-error") },
      fee: { input: this.fee, error: $("sim-fee-error") },
    };
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.run();
    });
    this.size.addEventListener("input", () => this.clearError("size"));
    this.unit.addEventListener("change", () => {
      this.clearError("size");
      this.updateHint();
    });
    this.fee.addEventListener("change", () => this.clearError("fee"));
  }

  /** A new instrument: units, fee schedule, and forget the last result. */
  setInstrument(info: InstInfo): void {
    this.info = info;
    const derivative = info.kind !== "SPOT";
    const opts: [Unit, string, boolean][] = [
      ["contracts", "contracts", derivative],
      ["base", info.base, true],
      ["quote", `${info.quote} notional`, true],
    ];
    const prev = this.unit.value as Unit;
    this.unit.replaceChildren(
      ...opts.map(([v, label, enabled]) => {
        const o = document.createElement("option");
        o.value = v;
        o.textContent = label;
        o.disabled = !enabled;
        return o;
      }),
    );
    this.unit.value = prev && (prev !== "contracts" || derivative) ? prev : derivative ? "contracts" : "base";
    const schedule = derivative ? "derivatives" : "spot";
    const prevFee = this.fee.value || "Lv1";
    this.fee.replaceChildren(
      ...FEE_TIERS.map((t: FeeTier) => {
        const row = FEE_TABLE[schedule][t];
        const o = document.createElement("option");
        o.value = t;
        o.textContent = `${t} · taker ${fixed(row.taker * 100, 3)} %${row.verified ? "" : " (unverified)"}`;
        return o;
      }),
    );
    this.fee.value = prevFee;
    this.updateHint();
    this.clearResult();
  }

  setBookAvailable(ok: boolean): void {
    const disabled = !ok || this.busy;
    if (this.submit.disabled !== disabled) this.submit.disabled = disabled;
    const label = this.busy ? "Simulating…" : ok ? "Simulate on live book" : "Waiting for the book…";
    if (this.submit.textContent !== label) this.submit.textContent = label;
  }

  clearResult(): void {
    this.result.hidden = true;
    this.summary.textContent = "";
    for (const k of Object.keys(this.fields) as (keyof typeof this.fields)[]) this.clearError(k);
    this.formError.textContent = "";
    this.formError.hidden = true;
    this.curve.clear();
    this.deps.onFill(null);
  }

  private updateHint(): void {
    const info = this.info;
    if (!info) return;
    const u = this.unit.value as Unit;
    const hint = $("sim-size-hint");
    hint.textContent =
      u === "contracts"
        ? `Contracts, as the book's sizes (${info.instId}).`
        : u === "base"
          ? `Base currency (${info.base}); converted to ${info.bookUnit === "contracts" ? "contracts" : "lots"} by the API.`
          : `Quote notional (${info.quote}); solved on the book by the API.`;
  }

  private clearError(k: keyof SimPanel["fields"]): void {
    const f = this.fields[k];
    f.error.textContent = "";
    f.error.hidden = true;
    f.input.removeAttribute("aria-invalid");
  }

  private showError(e: ApiError["error"]): void {
    const path = e.path ?? "";
    const head = path.split(/[.[]/)[0] ?? "";
    let key: keyof SimPanel["fields"] | null = null;
    if (head === "size" || head === "contracts" || head === "notional") key = "size";
    else if (head === "side") key = "side";
    else if (head === "feeTier" || head === "takerFeeRate") key = "fee";
    else if (head === "" && /\b(size|contracts|notional)\b/.test(e.message)) key = "size";
    if (key) {
      const f = this.fields[key];
      f.error.textContent = e.message;
      f.error.hidden = false;
      f.input.setAttribute("aria-invalid", "true");
      f.input.focus();
    } else {
      this.formError.textContent = `${e.message}${path ? ` (${path})` : ""} [${e.code}]`;
      this.formError.hidden = false;
    }
  }

  private async run(): Promise<void> {
    const book = this.deps.currentBook();
    const info = this.info;
    if (!book || !info || this.busy) return;
    this.clearResult();
    const side = (this.form.elements.namedItem("side") as RadioNodeList).value === "sell" ? "sell" : "buy";
    const unit = this.unit.value as Unit;
    const raw = this.size.value.trim().replace(/[\s_]/g, "");
    const amount = raw === "" ? null : Number(raw);
    const body = {
      instId: info.instId,
      side,
      // NaN serialises as null: the API answers "... must be a number" next to the field.
      [UNIT_FIELD[unit]]: amount,
      feeTier: this.fee.value,
      orderbook: { bids: book.bids, asks: book.asks, ts: book.ts },
      // The cost curve in the same request (same book): from a small order to 8x this one.
      ...(amount !== null && amount > 0
        ? { sizes: curveSizes(amount / 64, amount * 8, unit === "contracts" ? 1 : amount / 1024), maxSlippageBps: 5 }
        : {}),
    };
    const my = ++this.seq;
    this.busy = true;
    this.setBookAvailable(true);
    const t0 = performance.now();
    try {
      const res = await fetch("/simulate/trade", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
      });
      const rtt = performance.now() - t0;
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON (e.g. a proxy's HTML error page)
      }
      if (my !== this.seq) return;
      if (!res.ok) {
        const err = (json as ApiError | null)?.error;
        this.showError(
          err && typeof err.message === "string"
            ? err
            : { code: `http_${res.status}`, message: `HTTP ${res.status}: ${text.slice(0, 200) || res.statusText}` },
        );
        return;
      }
      this.render(json as SimulateResponse, book, rtt);
    } catch (e) {
      if (my !== this.seq) return;
      this.showError({ code: "network", message: `request failed: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      if (my === this.seq) {
        this.busy = false;
        this.setBookAvailable(this.deps.currentBook() !== null);
      }
    }
  }

  private render(r: SimulateResponse, book: BookMessage, rttMs: number): void {
    const f = r.fill;
    const q = r.currencies.quote;
    const pxDec = Math.max(2, Math.min(8, Math.round(-Math.log10(r.instrument.tickSz)) + 1));
    const unitLabel = r.order.bookUnit === "contracts" ? "ct" : r.currencies.base;
    const set = (id: string, text: string, cls?: "good" | "bad" | "") => {
      const e = $(id);
      e.textContent = text;
      if (cls !== undefined) {
        e.classList.toggle("good", cls === "good");
        e.classList.toggle("bad", cls === "bad");
      }
    };
    const filledBook = f.filledContracts ?? f.filledBase;
    set("r-filled", `${num(filledBook, 6)} ${unitLabel}`);
    set("r-filled-alt", `${num(f.filledBase, 8)} ${r.currencies.base} · ${fixed(f.filledQuote, 2)} ${q}`);
    set("r-vwap", fixed(f.avgPrice, pxDec));
    set("r-range", `${fixed(f.bestPrice, pxDec)} → ${fixed(f.worstPrice, pxDec)}`);
    set("r-mid", fixed(f.midPrice, pxDec));
    set("r-levels", String(f.levelsConsumed));
    set(
      "r-unfilled",
      f.fullyFilled
        ? "0 (fully filled)"
        : `${num(f.unfilledInRequestedUnit, 8)} ${r.order.requestedUnit === "contracts" ? "ct" : r.order.requestedUnit === "base" ? r.currencies.base : q}`,
      f.fullyFilled ? "" : "bad",
    );
    set("r-slip-mid", `${signed(r.slippage.vsMidBps, 2)} bps · ${signed(r.slippage.vsMidQuote, 2)} ${q}`);
    set("r-slip-best", `${signed(r.slippage.vsBestBps, 2)} bps · ${signed(r.slippage.vsBestQuote, 2)} ${q}`);
    const feeAmount = r.fee.currency === q ? fixed(r.fee.amountInFeeCcy, 4) : num(r.fee.amountInFeeCcy, 8);
    set(
      "r-fee",
      `${feeAmount} ${r.fee.currency} (${pct(r.fee.rate, 3)}${r.fee.tier ? ` ${r.fee.tier}` : ""}${r.fee.verified ? "" : ", unverified row"})`,
    );
    const imp = r.marketImpact;
    set(
      "r-impact",
      `${signed(imp.walkTheBook.avgVsBestBps, 2)} bps avg vs best · touch ${signed(imp.walkTheBook.touchMoveBps, 2)} bps${imp.preTrade.available && imp.preTrade.impactBps !== null ? ` · √-law ${fixed(imp.preTrade.impactBps, 2)} bps` : ""}`,
    );
    set(
      "r-net",
      `${signed(r.netCost.quote, 2)} ${q} · ${signed(r.netCost.bps, 2)} bps`,
      r.netCost.quote > 0 ? "bad" : "good",
    );
    set(
      "r-lot",
      r.order.lotRoundingApplied ? `rounded down by ${num(r.order.lotRoundedOffBookUnits, 8)} ${unitLabel}` : "none",
    );
    set("r-book", `${r.book.source} · ${r.book.bidLevels}/${r.book.askLevels} levels · seq ${book.seq}`);
    set(
      "r-time",
      `${fixed(rttMs, 0)} ms round trip · engine ${r.engineTimeUs !== null && r.engineTimeUs > 0 ? `${fixed(r.engineTimeUs, 0)} µs` : "n/a (Workers clock)"}`,
    );
    const warn = $("r-warnings");
    warn.replaceChildren(
      ...r.warnings.map((w) => {
        const li = document.createElement("li");
        li.textContent = w;
        return li;
      }),
    );
    warn.hidden = r.warnings.length === 0;
    this.summary.textContent =
      `${r.side === "buy" ? "Buy" : "Sell"} ${num(filledBook, 6)} ${unitLabel} filled at VWAP ${fixed(f.avgPrice, pxDec)} over ${f.levelsConsumed} level${f.levelsConsumed === 1 ? "" : "s"}` +
      `; net cost ${signed(r.netCost.quote, 2)} ${q} (${signed(r.netCost.bps, 2)} bps)${f.fullyFilled ? "" : "; NOT fully filled"}.`;
    this.summary.classList.toggle("buy", r.side === "buy");
    this.summary.classList.toggle("sell", r.side === "sell");
    this.result.hidden = false;
    this.curve.render(r);
    this.deps.onFill(f.levelsConsumed > 0 ? { side: r.side, best: f.bestPrice, worst: f.worstPrice } : null);
  }
}
