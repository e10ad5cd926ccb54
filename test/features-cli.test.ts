import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDataset, type LabeledRow } from "../src/features/dataset.js";
import {
  createFeatureState,
  FEATURE_NAMES,
  FEATURE_VERSION,
  NUM_FEATURES,
  parseOkxTrade,
  updateFeatures,
  updateTrades,
} from "../src/features/features.js";
import { applyBook, createBook, mid } from "../src/okx/book.js";
import { parseOkxMessage, type OkxMessage } from "../src/okx/protocol.js";
import { csvColumns, runFeaturesCli } from "../tools/features/cli.js";
import { DATA, REPO_ROOT, receivedMessages } from "../tools/lib/captures.js";

const dir = mkdtempSync(join(tmpdir(), "tradesim-features-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readCsv(path: string): { header: string[]; rows: number[][] } {
  const lines = readFileSync(path, "utf8").trimEnd().split("\n");
  return { header: lines[0]!.split(","), rows: lines.slice(1).map((l) => l.split(",").map(Number)) };
}

const messages: OkxMessage[] = receivedMessages(DATA.btcSwap).map((m) => parseOkxMessage(m.json));

/** What the relay does per message: applyBook, then updateFeatures on every change. */
function relayStyle(msgs: readonly OkxMessage[]): { ts: number; mid: number; f64: Float64Array; f32: Float32Array }[] {
  const book = createBook("BTC-USDT-SWAP");
  const s64 = createFeatureState();
  const s32 = createFeatureState();
  const out: { ts: number; mid: number; f64: Float64Array; f32: Float32Array }[] = [];
  for (const m of msgs) {
    if (m.kind !== "books") continue;
    const r = applyBook(book, m.action, m.data);
    if (!r.ok || !r.changed) continue;
    const f64 = new Float64Array(NUM_FEATURES);
    const f32 = new Float32Array(NUM_FEATURES);
    if (!updateFeatures(s64, book, f64) || !updateFeatures(s32, book, f32)) continue;
    out.push({ ts: book.ts, mid: mid(book)!, f64, f32 });
  }
  return out;
}

describe("features CLI on the 6-minute BTC stream (60 s horizon)", () => {
  const out = join(dir, "btc.csv");
  const res = runFeaturesCli({ replay: DATA.btcSwap, out, horizonSec: 60 });
  const { header, rows } = readCsv(out);
  const live = relayStyle(messages);
  const col = (name: string) => header.indexOf(name);

  it("writes the documented columns and a sidecar with the feature version", () => {
    expect(header).toEqual(csvColumns([60]));
    const meta = JSON.parse(readFileSync(res.metaPath, "utf8"));
    expect(meta.featureVersion).toBe(FEATURE_VERSION);
    expect(meta.featureNames).toEqual([...FEATURE_NAMES]);
    expect(meta.horizonSec).toBe(60);
    expect(meta.instId).toBe("BTC-USDT-SWAP");
    expect(meta.rows).toBe(rows.length);
    expect(res.featureRows).toBe(live.length);
    // ~345 s of books: everything but the last ~60 s has a target.
    expect(rows.length).toBe(res.featureRows - res.droppedNoHorizon);
    expect(rows.length).toBeGreaterThan(5000);
    const lastTs = live[live.length - 1]!.ts;
    expect(rows[rows.length - 1]![0]!).toBeLessThan(lastTs - 60_000);
  });

  it("TS features (as the relay computes them) == the CSV training rows, exactly", () => {
    // CSV rows are the first rows.length books, in order.
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const l = live[i]!;
      expect(r[0]).toBe(l.ts);
      expect(r[1]).toBe(l.mid);
      for (let k = 0; k < NUM_FEATURES; k++) {
        if (r[2 + k] !== l.f64[k]) throw new Error(`row ${i} ${FEATURE_NAMES[k]}: csv ${r[2 + k]} != live ${l.f64[k]}`);
        // The predictor gets a Float32Array: Python's float32 cast of the CSV value is the same number.
        if (Math.fround(r[2 + k]!) !== l.f32[k]) throw new Error(`row ${i} ${FEATURE_NAMES[k]}: float32 mismatch`);
      }
    }
  });

  it("target = mid of the last book at or before ts + 60 s, and a later book exists", () => {
    const tsAll = live.map((l) => l.ts);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const ts = r[col("ts")]!;
      const due = ts + 60_000;
      const targetTs = r[col("target_ts")]!;
      expect(targetTs).toBeLessThanOrEqual(due);
      expect(targetTs).toBeGreaterThan(ts); // the stream is dense: something changed within 60 s
      // last book with ts <= due
      let j = -1;
      for (let k = i; k < tsAll.length && tsAll[k]! <= due; k++) j = k;
      expect(tsAll[j]).toBe(targetTs);
      expect(j + 1 < tsAll.length && tsAll[j + 1]! > due).toBe(true);
      expect(r[col("target_mid")]).toBe(live[j]!.mid);
      expect(r[col("target_bps")]).toBeCloseTo(Math.log(live[j]!.mid / r[col("mid")]!) * 1e4, 9);
    }
  });

  it("no look-ahead: features of a row do not change when the stream is cut right after it", () => {
    const books = messages.filter((m) => m.kind === "books");
    for (const cut of [50, 1000, 3000]) {
      const truncated = relayStyle(books.slice(0, cut));
      const last = truncated[truncated.length - 1]!;
      const full = live[truncated.length - 1]!;
      expect(last.ts).toBe(full.ts);
      expect([...last.f64]).toEqual([...full.f64]);
    }
  });
});

describe("dataset: target alignment on a synthetic stream", () => {
  /** One full-book snapshot per point (spread 1), so each book is exactly the one described. */
  function stream(points: [ts: number, mid: number][]): OkxMessage[] {
    return points.map(([ts, m]) => ({
      kind: "books",
      arg: { channel: "books", instId: "X-Y" },
      action: "snapshot",
      data: { bids: [[String(m - 0.5), "1"]], asks: [[String(m + 0.5), "1"]], ts: String(ts) },
    }));
  }

  it.each([
    {
      name: "book exactly at ts+H is the target, once a later book proves it final",
      points: [
        [0, 100],
        [1000, 101],
        [2000, 102],
        [2500, 103],
      ] as [number, number][],
      horizonSec: 1,
      // row 0 -> book at 1000; row 1 -> book at 2000; rows 2, 3: no book after 3000 / 3500
      expect: [
        [0, 1000, 101],
        [1000, 2000, 102],
      ],
    },
    {
      name: "quiet market: the as-of mid, not the next change long after the horizon",
      points: [
        [0, 100],
        [400, 101],
        [10_000, 105],
      ] as [number, number][],
      horizonSec: 1,
      expect: [
        [0, 400, 101],
        [400, 400, 101],
      ],
    },
    {
      name: "several books with the same ts: the last of them",
      points: [
        [0, 100],
        [1000, 101],
        [1000, 99],
        [1001, 98],
      ] as [number, number][],
      horizonSec: 1,
      expect: [[0, 1000, 99]],
    },
  ])("$name", ({ points, horizonSec, expect: want }) => {
    const msgs = stream(points);
    const got: LabeledRow[] = [];
    buildDataset(msgs, { instId: "X-Y", horizonsSec: [horizonSec], verifyChecksum: false }, (r) => got.push(r));
    expect(got.map((r) => [r.ts, r.targets[0]!.ts, r.targets[0]!.mid])).toEqual(want);
    for (const r of got) expect(r.targets[0]!.bps).toBeCloseTo(Math.log(r.targets[0]!.mid / r.mid) * 1e4, 12);
  });

  it("a fault drops the rows whose horizon it interrupts and restarts the features", () => {
    const msgs: OkxMessage[] = [
      ...stream([
        [0, 100],
        [500, 101],
      ]),
      {
        kind: "books",
        arg: { channel: "books", instId: "X-Y" },
        action: "update",
        data: { bids: [["200", "1"]], asks: [], ts: "600" },
      }, // crossed
      ...stream([
        [700, 102],
        [2000, 103],
        [3000, 104],
        [3500, 105],
      ]),
    ];
    const got: LabeledRow[] = [];
    const st = buildDataset(msgs, { instId: "X-Y", horizonsSec: [1], verifyChecksum: false }, (r) => got.push(r));
    expect(st.faults).toBe(1);
    expect(st.droppedByFault).toBe(2);
    expect(got.map((r) => [r.ts, r.targets[0]!.ts])).toEqual([
      [700, 700],
      [2000, 3000],
    ]);
    // After the fault the 5 s return restarts from the first post-fault book.
    expect(got[0]!.features[FEATURE_NAMES.indexOf("ret_5s")]).toBe(0);
  });
});

describe("features CLI via npm script arguments", () => {
  it("runs as `tsx tools/features/cli.ts` and rejects ambiguous captures", () => {
    const out = join(dir, "okx.csv");
    execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "tools/features/cli.ts",
        "--replay",
        DATA.okx20220513,
        "--out",
        out,
        "--horizon",
        "2",
        "--instId",
        "BTC-USDT",
      ],
      {
        cwd: REPO_ROOT,
        stdio: "pipe",
      },
    );
    const { rows } = readCsv(out);
    expect(rows.length).toBeGreaterThan(50);
    let err = "";
    try {
      execFileSync(
        process.execPath,
        ["--import", "tsx", "tools/features/cli.ts", "--replay", DATA.okx20220513, "--out", out],
        { cwd: REPO_ROOT, stdio: "pipe" },
      );
    } catch (e) {
      err = String((e as { stderr: Buffer }).stderr);
    }
    expect(err).toMatch(/pass --instId/);
    for (const bad of [
      ["--horizons", "10,10"],
      ["--horizons", "10,x"],
      ["--horizon", "0"],
      ["--horizon", "5", "--horizons", "10"],
    ]) {
      let e = "";
      try {
        execFileSync(
          process.execPath,
          [
            "--import",
            "tsx",
            "tools/features/cli.ts",
            "--replay",
            DATA.okx20220513,
            "--out",
            out,
            "--instId",
            "BTC-USDT",
            ...bad,
          ],
          {
            cwd: REPO_ROOT,
            stdio: "pipe",
          },
        );
      } catch (x) {
        e = String((x as { stderr: Buffer }).stderr);
      }
      expect(e, bad.join(" ")).toMatch(/horizon/);
    }
  });
});

/** Real captures with trades (MIT slices in test/fixtures/trades, see SOURCE.txt there). */
const TRADES = {
  okcoin: join(REPO_ROOT, "test/fixtures/trades/okcoin-btccny-2016-03-03-6min.txt.gz"),
  gemini: join(REPO_ROOT, "test/fixtures/trades/gemini-ethusd-2021-07-01-20min.txt.gz"),
} as const;

/** The relay's order: every message as received, books through applyBook + updateFeatures, trades through updateTrades. */
function relayStyleWithTrades(
  msgs: readonly OkxMessage[],
  instId: string,
): { ts: number; mid: number; f64: Float64Array }[] {
  const book = createBook(instId);
  const s = createFeatureState();
  const out: { ts: number; mid: number; f64: Float64Array }[] = [];
  for (const m of msgs) {
    if (m.kind === "trades" && m.arg.instId === instId) {
      for (const d of m.data) {
        const t = parseOkxTrade(d);
        if (t) updateTrades(s, t);
      }
    }
    if (m.kind !== "books") continue;
    const r = applyBook(book, m.action, m.data);
    if (!r.ok || !r.changed) continue;
    const f64 = new Float64Array(NUM_FEATURES);
    if (!updateFeatures(s, book, f64)) continue;
    out.push({ ts: book.ts, mid: mid(book)!, f64 });
  }
  return out;
}

describe.each([
  { name: "okcoin BTC/CNY, 20 levels", file: TRADES.okcoin, instId: "BTC-CNY" },
  { name: "gemini ETH-USD, 1 level", file: TRADES.gemini, instId: "ETH-USD" },
])("features CLI on a real capture with trades: $name, horizons 10 s and 60 s", ({ file, instId }) => {
  const out = join(dir, `${instId}.csv`);
  const res = runFeaturesCli({ replay: file, out, horizonsSec: [10, 60] });
  const { header, rows } = readCsv(out);
  const msgs = receivedMessages(file).map((m) => parseOkxMessage(m.json));
  const live = relayStyleWithTrades(msgs, instId);
  const col = (name: string) => header.indexOf(name);

  it("suffixed target columns, trades counted, rows == the streaming feature state exactly", () => {
    expect(header).toEqual(csvColumns([10, 60]));
    expect(header.slice(-6)).toEqual([
      "target_ts_10",
      "target_mid_10",
      "target_bps_10",
      "target_ts_60",
      "target_mid_60",
      "target_bps_60",
    ]);
    expect(res.trades).toBeGreaterThan(100);
    expect(res.badTrades).toBe(0);
    expect(rows.length).toBeGreaterThan(instId === "BTC-CNY" ? 500 : 300);
    expect(res.featureRows).toBe(live.length);
    let withTrades = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const l = live[i]!;
      expect(r[0]).toBe(l.ts);
      for (let k = 0; k < NUM_FEATURES; k++) {
        if (r[2 + k] !== l.f64[k]) throw new Error(`row ${i} ${FEATURE_NAMES[k]}: csv ${r[2 + k]} != live ${l.f64[k]}`);
      }
      if (r[col("tcount_60s")]! > 0) withTrades++;
    }
    // the trade features are live on this stream (not the neutral value throughout)
    expect(withTrades / rows.length).toBeGreaterThan(0.5);
  });

  it("each horizon's target is the as-of mid at ts + h", () => {
    const tsAll = live.map((l) => l.ts);
    for (const h of [10, 60]) {
      for (let i = 0; i < rows.length; i += 7) {
        const r = rows[i]!;
        const due = r[0]! + h * 1000;
        let j = i;
        while (j + 1 < tsAll.length && tsAll[j + 1]! <= due) j++;
        expect(r[col(`target_ts_${h}`)]).toBe(tsAll[j]);
        expect(r[col(`target_mid_${h}`)]).toBe(live[j]!.mid);
        expect(r[col(`target_bps_${h}`)]).toBeCloseTo(Math.log(live[j]!.mid / r[1]!) * 1e4, 9);
      }
    }
  });

  it("no look-ahead: cutting the stream right after a book leaves its features unchanged", () => {
    const bookIdx = msgs.flatMap((m, i) => (m.kind === "books" ? [i] : []));
    for (const q of [0.2, 0.5, 0.9]) {
      const cutAt = bookIdx[Math.floor(bookIdx.length * q)]! + 1;
      const truncated = relayStyleWithTrades(msgs.slice(0, cutAt), instId);
      const last = truncated[truncated.length - 1]!;
      const full = live[truncated.length - 1]!;
      expect(last.ts).toBe(full.ts);
      expect([...last.f64]).toEqual([...full.f64]);
    }
  });
});
