/**
 * TradeSim web UI entry: wires the instrument picker, the two relay sockets (`/ws/okx` books, `/ws/prediction`
 * forecasts), the ladder, the charts and the simulator.
 *
 * Feed-rate rendering: a book message only replaces `latest` and requests an animation frame; the frame renders
 * the newest book once (intermediate books are conflated away) and THEN acks its `seq`, so the relay's flow
 * control (at most 16 unacknowledged books per client, conflation for slow readers) tracks what the screen really
 * shows. A hidden tab renders nothing, acks nothing, and is conflated by the relay instead of buffering.
 *
 * Both sockets are the client SDK's (packages/sdk-ts): it verifies every book's CRC32 (a tampered book is reported
 * and never drawn), reconnects with backoff and diagnoses a refused upgrade; the page only draws what it reports.
 */
import {
  TradeSimClient,
  type BookMessage,
  type BookSubscription,
  type ChecksumMismatch,
  type ErrorMessage,
  type LaggingMessage,
  type LinkState,
  type PredictionMessage,
  type PredictionSubscription,
  type ScoreMessage,
  type StatusMessage,
} from "../../packages/sdk-ts/src/index.js";
import { DepthChart } from "./depth.js";
import { fixed, num, pct, signed, utcDate, utcTime, decimalsOf } from "./format.js";
import { DEFAULT_STALENESS_BOUND_MS, formatAge, freshness, type Freshness } from "./freshness.js";
import { DEFAULT_INST_ID, instInfo, loadRecent, parseInstInput, pushRecent, type InstInfo } from "./instrument.js";
import { Ladder, type FillMark } from "./ladder.js";
import { MidChart } from "./midchart.js";
import { SimPanel } from "./sim.js";
import "./styles.css";

/** Levels requested per side: the ladder shows up to 25, the simulator walks all of them. */
const BOOK_DEPTH = 100;

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e;
}
function setText(id: string, text: string): void {
  const e = $(id);
  if (e.textContent !== text) e.textContent = text;
}

const client = new TradeSimClient({ baseUrl: location.origin });

// ---------- state ----------
let info: InstInfo = instInfo(DEFAULT_INST_ID);
let bookFeed: BookSubscription | null = null;
let predFeed: PredictionSubscription | null = null;
let latest: BookMessage | null = null;
let renderedSeq = -1;
let framePending = false;
let received = 0;
/** Books rendered (frames that drew a new book), since page load. */
let renderedBooks = 0;
let rateWindow: { t: number; n: number }[] = [];
let upstream: StatusMessage | null = null;
/** A fatal server error for this instrument (e.g. unknown_instrument): the feeds stopped. */
let fatal: { code: string; message: string } | null = null;
let fill: FillMark | null = null;
let pxDecimals = 1;
/** The last book this page rejected (its checksum did not match its levels). */
let lastMismatch: ChecksumMismatch | null = null;
/** The relay dropped its book (resync/down): the last one stays on screen, dimmed, until a fresh one is drawn. */
let upstreamDropped = false;
/** Exchange time of the book on screen (the last one a frame drew), or null. */
let shownTs: number | null = null;
/** The staleness bound: the relay's default until a `lagging` message tells the configured one. */
let staleBoundMs = DEFAULT_STALENESS_BOUND_MS;
/** The relay's last `lagging` notice for this page (it skipped books because this page did not ack in time). */
let lastLagging: LaggingMessage | null = null;
/** Freshness of the book on screen, as last rendered. */
let shownFreshness: Freshness = "none";

// ---------- components ----------
const phone = window.matchMedia("(max-width: 700px)").matches;
const rowsSelect = $("rows-select") as HTMLSelectElement;
rowsSelect.value = phone ? "10" : "15";
const ladder = new Ladder($("ladder"), Number(rowsSelect.value));
const midChart = new MidChart($("mid-chart"));
const depthChart = new DepthChart($("depth-chart"));
const sim = new SimPanel({
  currentBook: () => latest,
  onFill: (mark) => setFill(mark),
});

rowsSelect.addEventListener("change", () => {
  ladder.setRows(Number(rowsSelect.value));
  renderedSeq = -1;
  scheduleFrame();
});
$("mid-chart").addEventListener("dblclick", () => midChart.fit());
$("horizon").addEventListener("change", (e) => selectHorizon(Number((e.target as HTMLSelectElement).value)));

// ---------- connection state ----------
function upstreamView(s: StatusMessage | null): { state: string; text: string } {
  if (fatal) return { state: "down", text: fatal.code.replace(/_/g, " ") };
  if (!s) return { state: "connecting", text: "waiting" };
  return { state: s.state, text: s.reason ? `${s.state} (${s.reason})` : s.state };
}

/** `text` is announced (aria-live); `eta` (the countdown) is visual only, so it does not chatter every second. */
function linkView(s: LinkState): { state: string; text: string; eta: string } {
  switch (s.kind) {
    case "connecting":
      return { state: "connecting", text: s.attempt > 1 ? `connecting (attempt ${s.attempt})` : "connecting", eta: "" };
    case "open":
      return { state: "live", text: "connected", eta: "" };
    case "reconnecting":
      return {
        state: "resyncing",
        text: "reconnecting",
        eta: ` in ${Math.max(0, Math.ceil((s.at - Date.now()) / 1000))} s`,
      };
    case "stopped":
      return { state: "down", text: "stopped", eta: "" };
  }
}

function renderConn(): void {
  const up = upstreamView(upstream);
  const pill = $("upstream-pill");
  if (pill.dataset.state !== up.state) pill.dataset.state = up.state;
  setText("upstream-text", up.text);
  pill.title = `Relay's upstream OKX connection: ${upstream?.reason ? `${upstream.state} (${upstream.reason})` : (upstream?.state ?? "waiting for the relay")}`;
  const banner = $("banner");
  const bannerText = fatal ? `${info.instId}: ${fatal.message}` : "";
  banner.hidden = bannerText === "";
  setText("banner-text", bannerText);
  if (bookFeed) {
    const link = bookFeed.linkState;
    const lv = linkView(link);
    // Connected but the book on screen is older than the bound: amber, whatever the socket says.
    if (link.kind === "open" && shownFreshness === "stale") {
      lv.state = "stale";
      lv.text = "stale book";
    }
    const lp = $("link-pill");
    if (lp.dataset.state !== lv.state) lp.dataset.state = lv.state;
    setText("link-text", lv.text);
    setText("link-eta", lv.eta);
    lp.title =
      link.kind === "reconnecting" || link.kind === "stopped"
        ? `This page's WebSocket: ${lv.text} (${link.reason})`
        : lv.state === "stale"
          ? `This page's WebSocket is connected, but the book shown is older than ${formatAge(staleBoundMs)}` +
            (lastLagging
              ? lastLagging.scope === "relay"
                ? ` (the relay reported itself ${formatAge(lastLagging.lagMs)} behind the exchange)`
                : ` (the relay reported this page ${formatAge(lastLagging.lagMs)} behind)`
              : "")
          : `This page's WebSocket: ${lv.text}`;
    ($("retry-btn") as HTMLButtonElement).hidden = link.kind !== "reconnecting" && link.kind !== "stopped";
  }
  if (predFeed) {
    const pv = linkView(predFeed.linkState);
    const pp = $("pred-link");
    if (pp.dataset.state !== pv.state) pp.dataset.state = pv.state;
    setText("pred-link-text", pv.state === "live" ? "connected" : pv.text);
  }
}

function renderCrc(): void {
  const badge = $("crc-badge");
  let state = "none";
  let text = "–";
  let spoken = "not checked yet";
  const verified = bookFeed?.stats.verified ?? 0;
  const mismatches = bookFeed?.stats.mismatches ?? 0;
  if (mismatches > 0) {
    state = "bad";
    text = `MISMATCH ×${mismatches} (last seq ${lastMismatch?.seq})`;
    spoken = "checksum mismatch detected";
  } else if (verified > 0) {
    state = "ok";
    text = `✓ ${verified.toLocaleString("en-US")} verified`;
    spoken = "all book checksums verified";
  }
  if (badge.dataset.state !== state) badge.dataset.state = state;
  setText("crc-text", text);
  setText("crc-sr", spoken); // announced only when it changes, unlike the running count
}

$("retry-btn").addEventListener("click", () => {
  fatal = null;
  bookFeed?.reconnect();
  predFeed?.reconnect();
});

// ---------- book feed ----------
function onBook(m: BookMessage): void {
  if (received === 0) renderRecent(pushRecent(info.instId)); // remembered once it proved to exist
  received++;
  latest = m;
  scheduleFrame();
}

function onStatus(m: StatusMessage): void {
  upstream = m;
  if (m.state !== "live") {
    // The relay dropped its book (resync/down): the ladder shows the last one, dimmed, until a fresh book.
    upstreamDropped = true;
    renderFreshness();
  }
  renderConn();
}

/**
 * The relay skipped books for this page (scope `client`: it acked too late), or the relay itself is behind the
 * exchange (scope `relay`): either way its bound is the one to judge the age by.
 */
function onLagging(m: LaggingMessage): void {
  lastLagging = m;
  if (m.boundMs > 0) staleBoundMs = m.boundMs;
  const who = m.scope === "relay" ? "the relay is" : "this page is";
  console.info(`[tradesim] relay: ${who} ${m.lagMs} ms behind (bound ${m.boundMs} ms)`);
  renderFreshness();
}

/**
 * Age of the book on screen (now − its exchange ts), several times a second: the ladder is dimmed and the link
 * badge turns amber while it is older than the bound (or the relay dropped its book), and both recover with the
 * next fresh book.
 */
function renderFreshness(): void {
  const age = shownTs === null ? null : Date.now() - shownTs;
  const f = freshness(age, staleBoundMs);
  const el = $("st-age");
  setText("st-age", formatAge(age));
  if (el.dataset.state !== f) el.dataset.state = f;
  document.body.classList.toggle("stale", upstreamDropped || f === "stale");
  if (f !== shownFreshness) {
    shownFreshness = f;
    el.title =
      f === "stale"
        ? `Older than the staleness bound (${formatAge(staleBoundMs)}): not a live book`
        : `now − exchange time of the book shown (bound ${formatAge(staleBoundMs)})`;
    renderConn();
  }
}

function onMismatch(m: ChecksumMismatch): void {
  if (m.source !== "client") return; // the relay's own upstream resyncs show in the upstream pill
  lastMismatch = m;
  console.warn(`[tradesim] checksum mismatch on ${m.instId} seq ${m.seq}: relay ${m.expected}, computed ${m.computed}`);
  renderCrc();
}

/** A server error; a fatal one (unknown instrument, or the Worker's 400 for the instId) stops both sockets. */
function onServerError(m: ErrorMessage): void {
  console.warn(`[tradesim] server error ${m.code}: ${m.message}`);
  if (m.fatal) {
    fatal = { code: m.code, message: m.message || m.code };
    // The SDK stops the socket that got it by itself; the other one would only be refused again.
    predFeed?.fail(fatal.message);
    renderConn();
  }
}

function scheduleFrame(): void {
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(frame);
}

function frame(): void {
  framePending = false;
  const m = latest;
  if (!m || m.seq === renderedSeq) return;
  ladder.render(m);
  if (fill) renderFillNote();
  if (m.bids[0] && m.asks[0]) pxDecimals = Math.max(decimalsOf(m.bids[0][0]), decimalsOf(m.asks[0][0]));
  if (m.mid !== null) {
    midChart.setPrecision(Math.min(pxDecimals + 1, 8));
    midChart.addMid(m.ts, m.mid);
    setText("lg-mid", fixed(m.mid, pxDecimals + 1));
  }
  depthChart.update(m);
  setText("st-seq", String(m.seq));
  setText("st-ts", utcTime(m.ts));
  renderedSeq = m.seq;
  renderedBooks++;
  shownTs = m.ts;
  if (upstream?.state === "live") upstreamDropped = false;
  renderFreshness();
  sim.setBookAvailable(true);
  // Acknowledge what is now on screen (flow control).
  bookFeed?.ack(m.seq);
}

// ---------- prediction feed ----------
/** The horizon the chart and the panel show (the selector); 60 s, the product's headline, until changed. */
let horizonSec = 60;
/** Recent forecasts (bounded), so a change of horizon redraws the chart at once. */
const recentPredictions: PredictionMessage[] = [];
const MAX_RECENT_PREDICTIONS = 900;

function shownHorizon<T extends { horizonSec: number }>(horizons: readonly T[]): T | undefined {
  return horizons.find((h) => h.horizonSec === horizonSec) ?? horizons.at(-1);
}

/** Keep the selector's options equal to the horizons the model serves. */
function syncHorizonOptions(horizons: readonly { horizonSec: number }[]): void {
  const sel = $("horizon") as HTMLSelectElement;
  const want = horizons.map((h) => String(h.horizonSec));
  const have = [...sel.options].map((o) => o.value);
  if (want.join() === have.join()) return;
  sel.replaceChildren(...want.map((v) => new Option(`${v} s`, v, false, Number(v) === horizonSec)));
  if (!want.includes(String(horizonSec)) && want.length > 0) selectHorizon(Number(want.at(-1)));
}

function selectHorizon(h: number): void {
  horizonSec = h;
  ($("horizon") as HTMLSelectElement).value = String(h);
  midChart.clearPredictions();
  for (const p of recentPredictions) {
    const f = p.horizons.find((x) => x.horizonSec === h);
    if (f) midChart.addPrediction(p.ts, f);
  }
  const last = recentPredictions.at(-1);
  if (last) showPrediction(last, false);
}

function showPrediction(p: PredictionMessage, record = true): void {
  if (record) {
    recentPredictions.push(p);
    if (recentPredictions.length > MAX_RECENT_PREDICTIONS) recentPredictions.shift();
    syncHorizonOptions(p.horizons);
  }
  const h = shownHorizon(p.horizons);
  if (h === undefined) return;
  if (record) midChart.addPrediction(p.ts, h);
  const d = Math.min(pxDecimals + 1, 8);
  ($("pred-empty") as HTMLElement).hidden = true;
  ($("pred-values") as HTMLElement).hidden = false;
  setText("pv-h", `+${num(h.horizonSec, 0)} s${h.gated ? " (gated)" : ""}`);
  $("pv-h").title =
    h.point === "no-change"
      ? "The no-change forecast is served at this horizon (the model is gated or ships as no-change)."
      : "The model's forecast.";
  setText("pv-mid", fixed(h.predictedMid, d));
  const ret = $("pv-ret");
  ret.textContent = `${signed(h.predictedReturnBps, 2)} bps`;
  ret.className = h.predictedReturnBps > 0 ? "up" : h.predictedReturnBps < 0 ? "down" : "";
  setText("pv-band", `${fixed(h.low, d)} – ${fixed(h.high, d)}`);
  setText("pv-from", fixed(p.mid, d));
  setText("pv-at", `${utcTime(p.ts)} UTC`);
  setText("pv-model", `${p.model.name} ${p.model.version}`);
  setText("lg-pred", fixed(h.predictedMid, d));
  setText("lg-band", `${fixed(h.low, d)}–${fixed(h.high, d)}`);
}

function showScore(s: ScoreMessage): void {
  const h = shownHorizon(s.horizons);
  if (h === undefined) return;
  ($("score-empty") as HTMLElement).hidden = true;
  ($("score-values") as HTMLElement).hidden = false;
  setText("sc-count", `${num(h.count, 0)} forecast${h.count === 1 ? "" : "s"}`);
  $("sc-count").title = `+${num(h.horizonSec, 0)} s horizon, ${num(h.windows, 0)} independent windows`;
  setText("sc-mae", `${fixed(h.maeBps, 2)} bps`);
  setText("sc-rmse", `${fixed(h.rmseBps, 2)} · ${fixed(h.baselineRmseBps, 2)} bps`);
  const sk = $("sc-skill");
  sk.textContent = h.skill === null ? "–" : `${signed(h.skill * 100, 1)} %`;
  sk.className = h.skill === null ? "" : h.skill > 0 ? "up" : h.skill < 0 ? "down" : "";
  setText("sc-hit", pct(h.hitRate));
  setText("sc-cov", pct(h.coverage));
  // Every horizon side by side: RMSE ratio (< 1 beats no-change), hit rate, coverage, gated.
  const rows = s.horizons.map((x) => {
    const tr = document.createElement("tr");
    const ratio = x.baselineRmseBps > 0 ? x.rmseBps / x.baselineRmseBps : null;
    const cells = [
      `${num(x.horizonSec, 0)} s`,
      fixed(ratio, 4),
      pct(x.hitRate),
      pct(x.coverage),
      x.gated ? "yes" : "no",
    ];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) td.setAttribute("scope", "row");
      td.textContent = text;
      if (i === 1 && ratio !== null) td.className = ratio < 1 ? "up" : ratio > 1 ? "down" : "";
      tr.append(td);
    }
    tr.dataset.horizon = String(x.horizonSec);
    return tr;
  });
  $("skill-rows").replaceChildren(...rows);
  ($("skill-table") as HTMLElement).hidden = false;
}

function resetPrediction(): void {
  recentPredictions.length = 0;
  ($("skill-table") as HTMLElement).hidden = true;
  ($("pred-empty") as HTMLElement).hidden = false;
  ($("pred-values") as HTMLElement).hidden = true;
  ($("score-empty") as HTMLElement).hidden = false;
  ($("score-values") as HTMLElement).hidden = true;
  for (const id of ["lg-pred", "lg-band", "lg-mid"]) setText(id, "–");
}

// ---------- fill marker ----------
function setFill(mark: FillMark | null): void {
  fill = mark;
  ladder.setFill(mark);
  const note = $("fill-note");
  note.hidden = mark === null;
  renderedSeq = -1;
  scheduleFrame();
}

function renderFillNote(): void {
  if (!fill) return;
  const d = pxDecimals;
  const where =
    ladder.markedRows > 0
      ? `marked (${ladder.markedRows} row${ladder.markedRows === 1 ? "" : "s"})`
      : "no longer in view";
  setText(
    "fill-note-text",
    `Last simulated ${fill.side}: ${fill.side === "buy" ? "asks" : "bids"} ${fixed(fill.best, d)} → ${fixed(fill.worst, d)} ${where}`,
  );
}
$("fill-clear").addEventListener("click", () => setFill(null));

// ---------- instrument ----------
function renderRecent(list: string[]): void {
  const dl = $("inst-recent");
  dl.replaceChildren(
    ...list.map((id) => {
      const o = document.createElement("option");
      o.value = id;
      return o;
    }),
  );
  const chips = $("recent-list");
  chips.replaceChildren(
    ...list.slice(0, 4).map((id) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `chip${id === info.instId ? " active" : ""}`;
      b.textContent = id;
      b.setAttribute("aria-pressed", String(id === info.instId));
      b.addEventListener("click", () => openInstrument(id));
      return b;
    }),
  );
}

function openInstrument(instId: string): void {
  bookFeed?.close();
  predFeed?.close();
  info = instInfo(instId);
  latest = null;
  renderedSeq = -1;
  received = 0;
  rateWindow = [];
  upstream = null;
  fatal = null;
  lastMismatch = null;
  setFill(null);
  ladder.clear();
  ladder.setUnits(info.quote, info.bookUnit === "contracts" ? "ct" : info.base);
  midChart.clear();
  depthChart.clear();
  resetPrediction();
  sim.setInstrument(info);
  sim.setBookAvailable(false);
  upstreamDropped = false;
  shownTs = null;
  lastLagging = null;
  staleBoundMs = DEFAULT_STALENESS_BOUND_MS;
  renderFreshness();
  setText("book-inst", instId);
  document.title = `${instId} · TradeSim`;
  ($("inst-input") as HTMLInputElement).value = instId;
  const url = new URL(location.href);
  url.searchParams.set("instId", instId);
  history.replaceState(null, "", url);
  renderRecent(loadRecent());

  // Manual acks: a book is acknowledged when a frame has drawn it (see frame()).
  const book = client.subscribeBook(instId, { depth: BOOK_DEPTH, ack: "manual" });
  book.on("book", onBook);
  book.on("status", onStatus);
  book.on("mismatch", onMismatch);
  book.on("error", onServerError);
  book.on("lagging", onLagging);
  book.on("link", (st: LinkState) => {
    if (st.kind === "open") renderedSeq = -1; // a new socket (maybe a new relay): its seq numbers start afresh
    renderConn();
  });
  const pred = client.subscribePredictions(instId);
  pred.on("prediction", (p) => showPrediction(p));
  pred.on("score", showScore);
  pred.on("error", onServerError);
  pred.on("link", renderConn);
  bookFeed = book;
  predFeed = pred;
  renderConn();
  renderCrc();
}

const instForm = $("inst-form") as HTMLFormElement;
const instInput = $("inst-input") as HTMLInputElement;
const instError = $("inst-error");
instForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const r = parseInstInput(instInput.value);
  if (!r.ok) {
    instError.textContent = r.message;
    instError.hidden = false;
    instInput.setAttribute("aria-invalid", "true");
    instInput.focus();
    return;
  }
  instError.hidden = true;
  instInput.removeAttribute("aria-invalid");
  if (r.instId !== info.instId || bookFeed?.linkState.kind === "stopped") openInstrument(r.instId);
});
instInput.addEventListener("input", () => {
  if (!instError.hidden) {
    instError.hidden = true;
    instInput.removeAttribute("aria-invalid");
  }
});

// ---------- keyboard ----------
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target as HTMLElement | null;
  const typing =
    t !== null && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  if (ev.key === "Escape") {
    if (fill) setFill(null);
    return;
  }
  if (typing) return;
  if (ev.key === "/") {
    ev.preventDefault();
    instInput.focus();
    instInput.select();
  } else if (ev.key === "t") {
    ev.preventDefault();
    const size = $("sim-size") as HTMLInputElement;
    size.focus();
    size.select();
  }
});

// Book age: 4 times a second, so a stopped feed turns amber within a quarter second of crossing the bound.
setInterval(renderFreshness, 250);

// ---------- 1 Hz housekeeping: rate, rtt, reconnect countdown, checksum badge ----------
setInterval(() => {
  const now = performance.now();
  rateWindow.push({ t: now, n: received });
  while (rateWindow.length > 0 && now - rateWindow[0]!.t > 5_000) rateWindow.shift();
  const first = rateWindow[0];
  const rate = first && now > first.t ? ((received - first.n) * 1000) / (now - first.t) : 0;
  setText("st-rate", rateWindow.length > 1 ? `${fixed(rate, 1)}/s` : "–");
  setText("st-rtt", bookFeed?.rttMs != null ? `${fixed(bookFeed.rttMs, 0)} ms` : "–");
  renderConn();
  renderCrc();
  if (latest)
    $("st-ts").title =
      `${utcDate(latest.ts)} ${utcTime(latest.ts)} UTC (exchange time of the last applied OKX message)`;
}, 1000);

// ---------- test/debug hook (read-only snapshot; used by the end-to-end test) ----------
(window as unknown as { tradesim: unknown }).tradesim = {
  snapshot: () => ({
    instId: info.instId,
    renderedSeq,
    renderedBooks,
    received,
    latestSeq: latest?.seq ?? null,
    checksum: { verified: bookFeed?.stats.verified ?? 0, mismatches: bookFeed?.stats.mismatches ?? 0 },
    link: bookFeed?.linkState.kind ?? null,
    upstream: upstream?.state ?? null,
    ageMs: shownTs === null ? null : Date.now() - shownTs,
    freshness: shownFreshness,
    staleBoundMs,
  }),
  probe: (t: number) => midChart.probe(t),
};

// ---------- start ----------
const fromUrl = new URLSearchParams(location.search).get("instId");
const parsed = fromUrl ? parseInstInput(fromUrl) : null;
const initial = parsed?.ok ? parsed.instId : DEFAULT_INST_ID;
renderRecent(loadRecent());
openInstrument(initial);
