/**
 * End-to-end test of the web UI in a real headless Chromium (Debian's `chromium`, installed by
 * test/e2e/setup-chromium.sh; nothing downloads a browser) against the real stack started here: the local OKX
 * exchange replaying real data and `wrangler dev` serving the Worker and the built UI (web/dist).
 *
 * Run: `npm run test:e2e` (builds the UI, then `vitest run --config vitest.e2e.config.ts`).
 * Artefacts: test-results/ui-laptop.png, test-results/ui-phone.png; docs/screenshot.png (README) is a copy of the
 * laptop one.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { REPO_ROOT } from "../../tools/lib/captures.js";
import { startStack, type Stack } from "./stack.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const INST = "BTC-USDT-SWAP";
const RESULTS = resolve(REPO_ROOT, "test-results");
const LAPTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };

interface Snapshot {
  instId: string;
  renderedSeq: number;
  received: number;
  latestSeq: number | null;
  checksum: { verified: number; mismatches: number };
  link: string | null;
  upstream: string | null;
}

interface Level {
  px: string;
  sz: string;
}

let stack: Stack;
let browser: Browser;
let laptop: BrowserContext;
let page: Page;
const problems: string[] = [];
const sentFrames: string[] = [];

function watch(p: Page, label: string): void {
  p.on("pageerror", (e) => problems.push(`[${label}] page error: ${e.message}`));
  p.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    const text = m.text();
    // The invalid-size test makes the API answer 400 on purpose; Chromium logs every 4xx fetch.
    if (/Failed to load resource: the server responded with a status of 400/.test(text)) return;
    problems.push(`[${label}] console.${m.type()}: ${text}`);
  });
}

const snapshot = (p: Page) => p.evaluate("window.tradesim.snapshot()") as Promise<Snapshot>;

/**
 * Poll a page expression until it is truthy. (page.waitForFunction evaluates strings with eval, which the UI's
 * CSP forbids — as it should; page.evaluate goes through the debugger protocol instead.)
 */
async function until(p: Page, expr: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await p.evaluate(expr))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expr}`);
    await p.waitForTimeout(50);
  }
}

/** Top `n` levels per side as the ladder shows them: asks best first (the ladder lists them best at the bottom). */
async function ladderTop(p: Page, n: number): Promise<{ bids: Level[]; asks: Level[] }> {
  const read = async (sel: string) =>
    (await p.locator(sel).evaluateAll((rows) =>
      rows.map((r) => [r.querySelector(".px")?.textContent ?? "", r.querySelector(".sz")?.textContent ?? ""]),
    )) as [string, string][];
  const asks = (await read("#ladder .lside.asks .lrow")).filter(([px]) => px !== "").reverse();
  const bids = (await read("#ladder .lside.bids .lrow")).filter(([px]) => px !== "");
  const lv = ([px, sz]: [string, string]) => ({ px, sz });
  return { bids: bids.slice(0, n).map(lv), asks: asks.slice(0, n).map(lv) };
}

/** The exchange's current book, top `n` per side, from its control API. */
async function exchangeTop(n: number): Promise<{ bids: Level[]; asks: Level[]; seqId: number }> {
  const r = await fetch(`${stack.exchange.httpUrl}/__control/book?instId=${INST}&depth=${n}`);
  expect(r.status).toBe(200);
  const b = (await r.json()) as { bids: Level[] | [string, string][]; asks: Level[] | [string, string][]; seqId: number };
  const norm = (ls: Level[] | [string, string][]) => ls.map((l) => (Array.isArray(l) ? { px: l[0], sz: l[1] } : { px: l.px, sz: l.sz }));
  return { bids: norm(b.bids), asks: norm(b.asks), seqId: b.seqId };
}

/** Numeric equality of decimal strings (the ladder pads "61818" to "61818.0" for alignment). */
const sameLevels = (a: Level[], b: Level[]) => a.length === b.length && a.every((l, i) => Number(l.px) === Number(b[i]!.px) && Number(l.sz) === Number(b[i]!.sz));

/** Does /ws/prediction produce a prediction within `ms`? (Decides between "UI bug" and "not wired yet".) */
async function endpointPredicts(ms: number): Promise<{ ok: boolean; detail: string }> {
  const url = `${stack.baseUrl.replace("http", "ws")}/ws/prediction?instId=${INST}`;
  return new Promise((res) => {
    const seen: string[] = [];
    const ws = new WebSocket(url);
    const done = (ok: boolean, detail: string) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      res({ ok, detail });
    };
    const timer = setTimeout(() => done(false, `no prediction message in ${ms} ms (got: ${seen.join(", ") || "nothing"})`), ms);
    ws.on("message", (d) => {
      const text = String(d);
      let type = "?";
      try {
        type = (JSON.parse(text) as { type?: string }).type ?? "?";
      } catch {
        type = text.slice(0, 20);
      }
      seen.push(type);
      if (type === "prediction") done(true, "prediction received");
    });
    ws.on("error", (e) => done(false, `socket error: ${e.message}`));
    ws.on("unexpected-response", (_req, resp) => done(false, `HTTP ${resp.statusCode} on upgrade`));
  });
}

beforeAll(async () => {
  const t0 = Date.now();
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  laptop = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1, colorScheme: "dark" });
  page = await laptop.newPage();
  watch(page, "laptop");
  page.on("websocket", (ws) => {
    if (ws.url().includes("/ws/okx")) ws.on("framesent", (f) => sentFrames.push(String(f.payload)));
  });
  await page.goto(`${stack.baseUrl}/`);
  console.log(`[e2e] stack + browser + page up in ${Date.now() - t0} ms (Worker ${stack.baseUrl}, exchange ${stack.exchange.httpUrl})`);
}, 150_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
}, 60_000);

describe("web UI against the local exchange", () => {
  it("serves the UI as static assets with security headers; API paths still reach the Worker", async () => {
    const res = await fetch(`${stack.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    const js = /\/assets\/app-[A-Z0-9]+\.js/.exec(html)?.[0];
    expect(js).toBeDefined();
    const asset = await fetch(`${stack.baseUrl}${js}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(asset.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");

    // Worker routes are not shadowed by the assets.
    const health = await fetch(`${stack.baseUrl}/health`);
    expect(health.headers.get("content-type")).toMatch(/json/);
    const status = await fetch(`${stack.baseUrl}/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toHaveProperty("instruments");
    const ws = await fetch(`${stack.baseUrl}/ws/okx?instId=${INST}`);
    expect(ws.status).toBe(426);
    expect(((await ws.json()) as { error: { code: string } }).error.code).toBe("upgrade_required");
    const sim = await fetch(`${stack.baseUrl}/simulate/trade`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(sim.headers.get("content-type")).toMatch(/json/);
  });

  it("shows the connection state as live and verifies every book's checksum", async () => {
    await page.locator('#upstream-pill[data-state="live"]').waitFor({ timeout: 30_000 });
    await page.locator('#link-pill[data-state="live"]').waitFor({ timeout: 10_000 });
    expect(await page.locator("#upstream-text").textContent()).toBe("live");
    await page.locator('#crc-badge[data-state="ok"]').waitFor({ timeout: 10_000 });
    const s = await snapshot(page);
    expect(s.upstream).toBe("live");
    expect(s.link).toBe("open");
    expect(s.checksum.verified).toBeGreaterThan(0);
    expect(s.checksum.mismatches).toBe(0);
    // The status region is announced to screen readers.
    expect(await page.locator(".conn").getAttribute("aria-live")).toBe("polite");
  });

  it("renders the replayed book in the ladder (same levels as the exchange) and acks what it rendered", async () => {
    await until(page, "window.tradesim.snapshot().renderedSeq > 0", 20_000);
    const N = 5;
    let last = "";
    let matched = false;
    // The book moves ~20 times a second: sample the ladder and the exchange back to back until they agree.
    for (let i = 0; i < 150 && !matched; i++) {
      const [ui, ex] = [await ladderTop(page, N), await exchangeTop(N)];
      matched = sameLevels(ui.bids, ex.bids) && sameLevels(ui.asks, ex.asks);
      if (!matched) {
        last = `ui ${JSON.stringify(ui)}\nexchange ${JSON.stringify(ex)}`;
        await page.waitForTimeout(100);
      }
      // Whatever the timing, the ladder is a sane book.
      expect(Number(ui.asks[0]!.px)).toBeGreaterThan(Number(ui.bids[0]!.px));
    }
    expect(matched, `ladder never matched the exchange's book; last sample:\n${last}`).toBe(true);

    // Flow control: the page acks the books it rendered, in order.
    const acks = sentFrames.filter((f) => f.startsWith("{")).map((f) => JSON.parse(f) as { op: string; seq: number });
    expect(acks.length).toBeGreaterThan(3);
    expect(acks.every((a) => a.op === "ack" && Number.isInteger(a.seq))).toBe(true);
    for (let i = 1; i < acks.length; i++) expect(acks[i]!.seq).toBeGreaterThan(acks[i - 1]!.seq);
    const s = await snapshot(page);
    expect(acks[acks.length - 1]!.seq).toBeLessThanOrEqual(s.renderedSeq);
  });

  it("shows a prediction from /ws/prediction (or says why it cannot)", async (ctx) => {
    const shown = await page
      .locator("#pred-values")
      .waitFor({ state: "visible", timeout: 20_000 })
      .then(() => true)
      .catch(() => false);
    if (!shown) {
      const probe = await endpointPredicts(15_000);
      if (!probe.ok) {
        console.warn(`[e2e] SKIPPED prediction check: the /ws/prediction endpoint does not produce predictions yet (${probe.detail})`);
        ctx.skip();
        return;
      }
      throw new Error("the endpoint produces predictions but the UI shows none");
    }
    expect(await page.locator("#pred-empty").isHidden()).toBe(true);
    const predicted = Number((await page.locator("#pv-mid").textContent())!.replace(/,/g, ""));
    const mid = Number((await page.locator("#lg-mid").textContent())!.replace(/,/g, ""));
    expect(predicted).toBeGreaterThan(0);
    // A 60 s forecast of BTC is within a few percent of the current mid.
    expect(Math.abs(predicted / mid - 1)).toBeLessThan(0.05);
    expect(await page.locator("#pv-band").textContent()).toMatch(/\d – \d/);
    const probe = (await page.evaluate("window.tradesim.probe(0)")) as { pred: number; mid: number };
    expect(probe.pred).toBeGreaterThan(0);
    expect(probe.mid).toBeGreaterThan(0);
  });

  it("simulates a market order on the live book and marks the fill on the ladder", async () => {
    await page.locator("#side-buy").check();
    await page.locator("#sim-unit").selectOption("contracts");
    await page.locator("#sim-size").fill("500");
    await page.locator("#sim-fee").selectOption("Lv1");
    const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/simulate/trade")), page.locator("#sim-submit").click()]);
    const body = (await resp.json()) as { fill?: { avgPrice: number; levelsConsumed: number; bestPrice: number; worstPrice: number }; error?: unknown };
    expect(resp.status(), `simulate answered ${resp.status()}: ${JSON.stringify(body)}`).toBe(200);
    await page.locator("#sim-result").waitFor({ state: "visible", timeout: 5_000 });
    const vwap = Number((await page.locator("#r-vwap").textContent())!.replace(/,/g, ""));
    expect(vwap).toBeCloseTo(body.fill!.avgPrice, 1);
    expect(vwap).toBeGreaterThanOrEqual(body.fill!.bestPrice);
    expect(vwap).toBeLessThanOrEqual(body.fill!.worstPrice);
    expect(await page.locator("#r-levels").textContent()).toBe(String(body.fill!.levelsConsumed));
    for (const id of ["#r-filled", "#r-slip-mid", "#r-fee", "#r-impact", "#r-net", "#r-unfilled"]) {
      expect((await page.locator(id).textContent())!.trim()).toMatch(/\d/);
    }
    expect(await page.locator("#sim-summary").textContent()).toMatch(/^Buy .* filled at VWAP/);
    // The consumed asks are marked on the ladder (some may already have moved, but the best levels were taken).
    await page.locator("#ladder .lside.asks .lrow.in-fill").first().waitFor({ timeout: 5_000 });
    expect(await page.locator("#fill-note").isVisible()).toBe(true);
    // Escape clears the mark.
    await page.locator("body").press("Escape");
    await page.locator("#ladder .lrow.in-fill").first().waitFor({ state: "detached", timeout: 5_000 });
    // Run it again for the screenshot.
    await page.locator("#sim-submit").click();
    await page.locator("#ladder .lside.asks .lrow.in-fill").first().waitFor({ timeout: 5_000 });
  });

  it("shows the API's validation error next to the size field", async () => {
    const size = page.locator("#sim-size");
    for (const [input, field] of [["-5", "contracts"], ["abc", "contracts"]] as const) {
      await size.fill(input);
      const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/simulate/trade")), page.locator("#sim-submit").click()]);
      expect(resp.status()).toBe(400);
      const api = (await resp.json()) as { error: { code: string; message: string; path?: string } };
      expect(api.error.path).toBe(field);
      const err = page.locator("#sim-size-error");
      await err.waitFor({ state: "visible", timeout: 5_000 });
      expect(await err.textContent()).toBe(api.error.message);
      expect(await size.getAttribute("aria-invalid")).toBe("true");
      // The message sits next to the field and the field points at it.
      expect(await size.getAttribute("aria-describedby")).toContain("sim-size-error");
      expect(await page.locator("#sim-result").isHidden()).toBe(true);
    }
    await size.fill("500");
    expect(await page.locator("#sim-size-error").isHidden()).toBe(true);
    await page.locator("#sim-submit").click();
    await page.locator("#sim-result").waitFor({ state: "visible", timeout: 5_000 });
  });

  it("validates the instrument like the server and supports the keyboard shortcuts", async () => {
    await page.locator("body").press("/");
    expect(await page.evaluate("document.activeElement && document.activeElement.id")).toBe("inst-input");
    await page.locator("#inst-input").fill("btc usdt");
    await page.locator("#inst-input").press("Enter");
    await page.locator("#inst-error").waitFor({ state: "visible" });
    expect(await page.locator("#inst-error").textContent()).toMatch(/not an OKX instrument id/);
    expect((await snapshot(page)).instId).toBe(INST);
    await page.locator("#inst-input").fill(INST);
    await page.locator("#inst-input").press("Enter");
    await page.locator("#inst-error").waitFor({ state: "hidden" });
    await page.evaluate("document.activeElement && document.activeElement.blur()");
    await page.locator("body").press("t");
    expect(await page.evaluate("document.activeElement && document.activeElement.id")).toBe("sim-size");
    await page.evaluate("document.activeElement && document.activeElement.blur()");
  });

  it("saves laptop and phone screenshots (no overflow at 390 px, no CSP or script errors)", async () => {
    mkdirSync(RESULTS, { recursive: true });
    // Let the charts accumulate a little history for the picture.
    await page.waitForTimeout(2_000);
    const laptopPng = resolve(RESULTS, "ui-laptop.png");
    await page.screenshot({ path: laptopPng });
    copyFileSync(laptopPng, resolve(REPO_ROOT, "docs/screenshot.png"));

    const phone = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: "dark" });
    try {
      const p = await phone.newPage();
      watch(p, "phone");
      await p.goto(`${stack.baseUrl}/?instId=${INST}`);
      await p.locator('#upstream-pill[data-state="live"]').waitFor({ timeout: 30_000 });
      await until(p, "window.tradesim.snapshot().renderedSeq > 0", 20_000);
      await p.locator("#sim-submit").click();
      await p.locator("#sim-result").waitFor({ state: "visible", timeout: 10_000 });
      await p.waitForTimeout(1_500);
      const overflow = (await p.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")) as number;
      expect(overflow, "horizontal overflow at 390 px").toBeLessThanOrEqual(0);
      await p.screenshot({ path: resolve(RESULTS, "ui-phone.png"), fullPage: true });
    } finally {
      await phone.close();
    }
    expect(problems, problems.join("\n")).toEqual([]);
  });
});
