/**
 * Prediction v2 online parts (Node, exchange time only, so the clock is whatever the test feeds): conformal band
 * calibration, gating with hysteresis, prequential order, bounded memory, and the engine == training rows on a real
 * capture with trades.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { BookView } from "../src/features/features.js";
import { FEATURE_NAMES, NUM_FEATURES } from "../src/features/features.js";
import { applyBook, createBook } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { calibrate, conformalUpdate, createConformal } from "../src/predict/conformal.js";
import { createPredictionEngine } from "../src/predict/engine.js";
import { createGate, gateUpdate } from "../src/predict/gate.js";
import type { HeadForecast } from "../src/predict/horizon.js";
import { NoChangeMultiModel, type MultiHorizonModel } from "../src/predict/multi.js";
import type { PredictionMessage } from "../src/protocol.js";
import { runFeaturesCli } from "../tools/features/cli.js";
import { REPO_ROOT, receivedMessages } from "../tools/lib/captures.js";

const dir = mkdtempSync(join(tmpdir(), "tradesim-engine-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic PRNG (mulberry32) and standard normals (Box-Muller). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normal(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
}

/** A 1-level book with mid `m` (spread 0.01) at ts. */
const bookAt = (ts: number, m: number): BookView => ({
  ts,
  bids: [{ price: m - 0.005, size: 1 }],
  asks: [{ price: m + 0.005, size: 1 }],
});

/**
 * Heteroscedastic synthetic mid path, one book per second: per-second log-return sd (bps) switches between calm and
 * stormy regimes of random length and drifts with a GARCH-like persistence in between.
 */
function heteroscedasticPath(seconds: number, seed: number): number[] {
  const u = rng(seed);
  const z = normal(u);
  const mids: number[] = [];
  let logMid = Math.log(1000);
  let sd = 1;
  let regimeLeft = 0;
  let base = 1;
  for (let t = 0; t < seconds; t++) {
    if (regimeLeft-- <= 0) {
      base = u() < 0.5 ? 0.3 : 4; // bps per second
      regimeLeft = 500 + Math.floor(u() * 3000);
    }
    sd = 0.9 * sd + 0.1 * base * (0.5 + u());
    logMid += (sd * z()) / 1e4;
    mids.push(Math.exp(logMid));
  }
  return mids;
}

/** Realised as-of log return (bps) of the path from second t over h seconds (one book per second, no gaps). */
const realised = (mids: number[], t: number, h: number) => Math.log(mids[t + h]! / mids[t]!) * 1e4;

async function runEngine(
  mids: number[],
  model: MultiHorizonModel,
  opts: { gamma?: number } = {},
): Promise<PredictionMessage[]> {
  const e = createPredictionEngine({
    instId: "SYN",
    model,
    ...(opts.gamma !== undefined && { conformal: { gamma: opts.gamma } }),
  });
  const msgs: PredictionMessage[] = [];
  for (let t = 0; t < mids.length; t++) {
    const ts = 1_700_000_000_000 + t * 1000;
    e.onBook(bookAt(ts, mids[t]!));
    const p = e.maybePredict(ts);
    if (p) {
      const m = await p;
      if (m) msgs.push(m);
    }
  }
  return msgs;
}

describe("conformal band calibration", () => {
  it("on a heteroscedastic series, live coverage of a mis-scaled constant band is within 2 pts of 80 % (each tail ~10 %)", async () => {
    const mids = heteroscedasticPath(40_000, 42);
    const model = new NoChangeMultiModel([
      { horizonSec: 10, lowBps: -3, highBps: 3 },
      { horizonSec: 60, lowBps: -3, highBps: 3 },
    ]);
    const withAci = await runEngine(mids, model);
    const without = await runEngine(mids, model, { gamma: 0 });
    for (const [k, h] of [10, 60].entries()) {
      const cov = (msgs: PredictionMessage[]) => {
        let inside = 0;
        let below = 0;
        let n = 0;
        for (const m of msgs) {
          const t = (m.ts - 1_700_000_000_000) / 1000;
          if (t + h >= mids.length) continue;
          const y = realised(mids, t, h);
          const f = m.horizons[k]!;
          if (y >= f.lowBps && y <= f.highBps) inside++;
          if (y < f.lowBps) below++;
          n++;
        }
        return { coverage: inside / n, below: below / n, n };
      };
      const a = cov(withAci);
      const b = cov(without);
      expect(a.n).toBeGreaterThan(39_000);
      expect(Math.abs(a.coverage - 0.8), `ACI coverage at ${h} s: ${a.coverage}`).toBeLessThanOrEqual(0.02);
      expect(Math.abs(a.below - 0.1), `ACI lower tail at ${h} s: ${a.below}`).toBeLessThanOrEqual(0.02);
      // the same band without calibration is far off (the test can fail)
      expect(Math.abs(b.coverage - 0.8), `raw coverage at ${h} s: ${b.coverage}`).toBeGreaterThan(0.1);
    }
  });

  it("calibrate/update: hand-checked steps", () => {
    const s = createConformal({ gamma: 0.5 });
    expect(calibrate(s, -2, 4)).toEqual({ low: -2, high: 4 });
    conformalUpdate(s, -3, -2, 4); // below: a += 0.5 * (1 - 0.1); above: b += 0.5 * (0 - 0.1)
    expect(s.a).toBeCloseTo(0.45, 12);
    expect(s.b).toBeCloseTo(-0.05, 12);
    const c = calibrate(s, -2, 4); // centre 1, half widths 3 * e^0.45 and 3 * e^-0.05
    expect(c.low).toBeCloseTo(1 - 3 * Math.exp(0.45), 12);
    expect(c.high).toBeCloseTo(1 + 3 * Math.exp(-0.05), 12);
    expect(calibrate(s, 4, -2)).toEqual(c); // reversed raw band reordered
    for (let i = 0; i < 100; i++) conformalUpdate(s, -100, -2, 4);
    expect(s.a).toBe(5); // clamped
  });
});

describe("gating", () => {
  it("hysteresis: closes below closeBelow, reopens only above openAbove, and waits for minWindows", () => {
    const g = createGate({ minWindows: 10, closeBelow: -0.01, openAbove: 0.01 });
    expect(gateUpdate(g, -0.5, 9)).toBe(false); // not enough windows yet
    expect(gateUpdate(g, null, 50)).toBe(false); // nothing moved
    expect(gateUpdate(g, -0.005, 10)).toBe(false); // inside the band: stays open
    expect(gateUpdate(g, -0.02, 10)).toBe(true);
    expect(gateUpdate(g, 0.005, 10)).toBe(true); // inside the band: stays closed
    expect(gateUpdate(g, 0.02, 10)).toBe(false);
    expect(g.flips).toBe(2);
    expect(() => createGate({ closeBelow: 0.1, openAbove: 0 })).toThrow(/must exceed/);
  });

  it("a head that loses to no-change live is served as no-change (gated, said so) and resumes when skill returns", async () => {
    const mids = heteroscedasticPath(6000, 7);
    // 10 s head: 15 bps against the realised move for the first 2,000 s, then the realised move itself (an oracle).
    let now = 0;
    const model: MultiHorizonModel = {
      name: "test",
      version: "1",
      featureVersion: "x",
      horizonsSec: [10],
      pointIsNoChange: [false],
      predict: (): Promise<HeadForecast[]> => {
        const y = now + 10 < mids.length ? realised(mids, now, 10) : 0;
        return Promise.resolve([{ returnBps: now < 2000 ? -Math.sign(y) * 15 : y, lowBps: -5, highBps: 5 }]);
      },
    };
    const e = createPredictionEngine({ instId: "SYN", model, gate: { minWindows: 10 } });
    const seen: { t: number; gated: boolean; point: number; kind: string }[] = [];
    for (let t = 0; t < mids.length; t++) {
      now = t;
      const ts = 1_700_000_000_000 + t * 1000;
      e.onBook(bookAt(ts, mids[t]!));
      const m = await e.maybePredict(ts);
      if (m)
        seen.push({
          t,
          gated: m.horizons[0]!.gated,
          point: m.horizons[0]!.predictedReturnBps,
          kind: m.horizons[0]!.point,
        });
    }
    const at = (t: number) => seen.find((s) => s.t === t)!;
    expect(at(50).gated).toBe(false); // < 10 independent 10 s outcomes scored: the shipped head is trusted
    expect(at(1500).gated).toBe(true);
    expect(at(1500).point).toBe(0);
    expect(at(1500).kind).toBe("no-change");
    expect(at(5000).gated).toBe(false);
    expect(at(5000).kind).toBe("model");
    const sc = e.score().horizons[0]!;
    expect(sc.modelSkill).toBeGreaterThan(0.9);
    expect(sc.gated).toBe(false);
    expect(e.horizonStates()[0]!.gate.flips).toBe(2);
  });
});

describe("online slope (per-instrument magnitude of the point)", () => {
  it("learns that the model's moves are 10x too small, from realised outcomes only, and serves the scaled point", async () => {
    const mids = heteroscedasticPath(4000, 11);
    let now = 0;
    const model: MultiHorizonModel = {
      name: "shy-oracle",
      version: "1",
      featureVersion: "x",
      horizonsSec: [10],
      pointIsNoChange: [false],
      onlineSlope: [{ kappaBps2: 10, halfLife: 3600 }],
      predict: () =>
        Promise.resolve([
          { returnBps: now + 10 < mids.length ? realised(mids, now, 10) / 10 : 0, lowBps: -5, highBps: 5 },
        ]),
    };
    const e = createPredictionEngine({ instId: "SYN", model });
    const served: { t: number; point: number }[] = [];
    for (let t = 0; t < mids.length; t++) {
      now = t;
      const ts = 1_700_000_000_000 + t * 1000;
      e.onBook(bookAt(ts, mids[t]!));
      const m = await e.maybePredict(ts);
      if (m) served.push({ t, point: m.horizons[0]!.predictedReturnBps });
    }
    // before any outcome is known (the first 11 forecasts) the point is served as the model said: lambda = 1
    for (const s of served.slice(0, 11)) expect(s.point).toBe(realised(mids, s.t, 10) / 10);
    const sc = e.score().horizons[0]!;
    expect(sc.pointScale).toBeGreaterThan(9);
    expect(sc.pointScale).toBeLessThan(10.01);
    expect(sc.skill).toBeGreaterThan(0.95); // nearly the oracle itself
    // late forecasts are served at ~10x the raw output
    const late = served[served.length - 100]!;
    expect(late.point / (realised(mids, late.t, 10) / 10)).toBeCloseTo(sc.pointScale!, 1);
  });
});

describe("prequential order and memory", () => {
  it("each served band uses only outcomes due strictly before the forecast (replayed independently)", async () => {
    const mids = heteroscedasticPath(3000, 3);
    const h = 10;
    const msgs = await runEngine(mids, new NoChangeMultiModel([{ horizonSec: h, lowBps: -2, highBps: 2 }]));
    const s = createConformal();
    let j = 0;
    for (const m of msgs) {
      const t = (m.ts - 1_700_000_000_000) / 1000;
      // outcomes of earlier forecasts are known once a book with ts > their due has arrived, i.e. due < t
      while (j < msgs.length) {
        const tj = (msgs[j]!.ts - 1_700_000_000_000) / 1000;
        if (!(tj + h < t)) break;
        conformalUpdate(s, realised(mids, tj, h), msgs[j]!.horizons[0]!.lowBps, msgs[j]!.horizons[0]!.highBps);
        j++;
      }
      const want = calibrate(s, -2, 2);
      expect(m.horizons[0]!.lowBps).toBe(want.low);
      expect(m.horizons[0]!.highBps).toBe(want.high);
    }
  });

  it("pending forecasts and the rolling window stay bounded; reset drops pending and restarts features", async () => {
    const e = createPredictionEngine({
      instId: "SYN",
      model: new NoChangeMultiModel([{ horizonSec: 60, lowBps: -1, highBps: 1 }]),
    });
    // 100 books per second for 30 minutes: forecasts stay at one per second
    for (let i = 0; i < 180_000; i++) {
      const ts = 1_700_000_000_000 + i * 10;
      e.onBook(bookAt(ts, 1000 + Math.sin(i / 500)));
      await e.maybePredict(ts);
    }
    expect(e.pending()[0]).toBeLessThanOrEqual(62);
    const h = e.horizonStates()[0]!;
    expect(h.ring.size).toBeLessThanOrEqual(h.ring.cap);
    expect(h.ring.cap).toBeLessThanOrEqual(1202);
    expect(e.score().horizons[0]!.windows).toBeGreaterThan(15);
    e.reset();
    expect(e.pending()[0]).toBe(0);
    expect(e.maybePredict(1_700_000_000_000 + 180_000 * 10)).toBeNull(); // no book since the reset
  });

  it("a forecast started before a reset is dropped; a failing model yields null and does not wedge the engine", async () => {
    let fail = true;
    const model: MultiHorizonModel = {
      ...new NoChangeMultiModel([{ horizonSec: 10, lowBps: -1, highBps: 1 }]),
      name: "flaky",
      version: "1",
      featureVersion: "x",
      horizonsSec: [10],
      pointIsNoChange: [true],
      predict: () =>
        fail ? Promise.reject(new Error("boom")) : Promise.resolve([{ returnBps: 0, lowBps: -1, highBps: 1 }]),
    };
    const e = createPredictionEngine({ instId: "SYN", model });
    e.onBook(bookAt(1000, 100));
    expect(await e.maybePredict(1000)).toBeNull();
    expect(e.stats.predictErrors).toBe(1);
    fail = false;
    e.onBook(bookAt(2000, 100));
    const p = e.maybePredict(2000);
    e.reset();
    expect(await p).toBeNull();
    e.onBook(bookAt(3000, 100));
    expect(await e.maybePredict(3000)).not.toBeNull();
  });
});

describe("engine on a real capture with trades (okcoin BTC/CNY slice)", () => {
  const file = join(REPO_ROOT, "test/fixtures/trades/okcoin-btccny-2016-03-03-6min.txt.gz");
  const msgs = receivedMessages(file).map((m) => parseOkxMessage(m.json));
  const out = join(dir, "okc.csv");
  runFeaturesCli({ replay: file, out, horizonsSec: [10, 60] });
  const lines = readFileSync(out, "utf8").trimEnd().split("\n");
  const rows = lines.slice(1).map((l) => l.split(",").map(Number));

  /** Drive the engine exactly as the relay will: trades pushes and applied book changes, in the order received. */
  async function drive(model: MultiHorizonModel, onBook?: (ts: number, f: Float32Array) => void) {
    const e = createPredictionEngine({ instId: "BTC-CNY", model });
    const book = createBook("BTC-CNY");
    const preds: PredictionMessage[] = [];
    for (const m of msgs) {
      if (m.kind === "trades") e.onTrades(m.data);
      if (m.kind !== "books") continue;
      const r = applyBook(book, m.action, m.data);
      if (!r.ok || !r.changed) continue;
      e.onBook(book);
      onBook?.(book.ts, e.lastFeatures());
      const p = await e.maybePredict(book.ts);
      if (p) preds.push(p);
    }
    return { e, preds };
  }

  it("the engine's feature vector == the CSV training row of the same book (float32), trades included", async () => {
    let checked = 0;
    let i = 0;
    await drive(new NoChangeMultiModel([{ horizonSec: 10, lowBps: -1, highBps: 1 }]), (ts, f) => {
      const r = rows[i];
      if (!r || r[0] !== ts) return;
      i++;
      for (let k = 0; k < NUM_FEATURES; k++) {
        if (Math.fround(r[2 + k]!) !== f[k])
          throw new Error(`row ${i - 1} ${FEATURE_NAMES[k]}: csv ${r[2 + k]} != engine ${f[k]}`);
      }
      checked++;
    });
    expect(checked).toBe(rows.length);
    expect(checked).toBeGreaterThan(500);
  });

  it("scoring uses the training target: an oracle returning the CSV targets scores zero error at 10 s and 60 s", async () => {
    // one CSV per horizon: a row needs only its own horizon covered (the two-horizon CSV drops the last 60 s)
    const target = (h: number) => {
      const o = join(dir, `okc-${h}.csv`);
      runFeaturesCli({ replay: file, out: o, horizonsSec: [h] });
      return readFileSync(o, "utf8")
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((l) => l.split(",").map(Number));
    };
    const rows10 = target(10);
    const rows60 = target(60);
    let i10 = 0;
    let i60 = 0;
    let t10 = 0;
    let t60 = 0;
    const oracle: MultiHorizonModel = {
      name: "oracle",
      version: "1",
      featureVersion: "x",
      horizonsSec: [10, 60],
      pointIsNoChange: [false, false],
      predict: () => {
        return Promise.resolve([
          { returnBps: t10, lowBps: t10, highBps: t10 },
          { returnBps: t60, lowBps: t60, highBps: t60 },
        ]);
      },
    };
    // the row of this very book (rows are one per book, in order; books past the last row have no target)
    const { e, preds } = await drive(oracle, (ts) => {
      t10 = rows10[i10]?.[0] === ts ? rows10[i10++]!.at(-1)! : 0;
      t60 = rows60[i60]?.[0] === ts ? rows60[i60++]!.at(-1)! : 0;
    });
    expect(preds.length).toBeGreaterThan(200);
    const s = e.score();
    for (const h of s.horizons) {
      expect(h.count).toBeGreaterThan(100);
      expect(h.rmseBps).toBe(0);
      expect(h.modelSkill).toBe(1);
      expect(h.coverage).toBe(1);
      expect(h.gated).toBe(false);
    }
    expect(e.stats.trades).toBeGreaterThan(1000);
  });
});
