import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDataset, type LabeledRow } from "../src/features/dataset.js";
import { createFeatureState, FEATURE_NAMES, FEATURE_VERSION, NUM_FEATURES, updateFeatures } from "../src/features/features.js";
import { applyBook, createBook, mid } from "../src/okx/book.js";
import { parseOkxMessage, type OkxMessage } from "../src/okx/protocol.js";
import { CSV_COLUMNS, runFeaturesCli } from "../tools/features/cli.js";
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
    expect(header).toEqual([...CSV_COLUMNS]);
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
      points: [[0, 100], [1000, 101], [2000, 102], [2500, 103]] as [number, number][],
      horizonSec: 1,
      // row 0 -> book at 1000; row 1 -> book at 2000; rows 2, 3: no book after 3000 / 3500
      expect: [[0, 1000, 101], [1000, 2000, 102]],
    },
    {
      name: "quiet market: the as-of mid, not the next change long after the horizon",
      points: [[0, 100], [400, 101], [10_000, 105]] as [number, number][],
      horizonSec: 1,
      expect: [[0, 400, 101], [400, 400, 101]],
    },
    {
      name: "several books with the same ts: the last of them",
      points: [[0, 100], [1000, 101], [1000, 99], [1001, 98]] as [number, number][],
      horizonSec: 1,
      expect: [[0, 1000, 99]],
    },
  ])("$name", ({ points, horizonSec, expect: want }) => {
    const msgs = stream(points);
    const got: LabeledRow[] = [];
    buildDataset(msgs, { instId: "X-Y", horizonSec, verifyChecksum: false }, (r) => got.push(r));
    expect(got.map((r) => [r.ts, r.targetTs, r.targetMid])).toEqual(want);
    for (const r of got) expect(r.targetBps).toBeCloseTo(Math.log(r.targetMid / r.mid) * 1e4, 12);
  });

  it("a fault drops the rows whose horizon it interrupts and restarts the features", () => {
    const msgs: OkxMessage[] = [
      ...stream([[0, 100], [500, 101]]),
      { kind: "books", arg: { channel: "books", instId: "X-Y" }, action: "update", data: { bids: [["200", "1"]], asks: [], ts: "600" } }, // crossed
      ...stream([[700, 102], [2000, 103], [3000, 104], [3500, 105]]),
    ];
    const got: LabeledRow[] = [];
    const st = buildDataset(msgs, { instId: "X-Y", horizonSec: 1, verifyChecksum: false }, (r) => got.push(r));
    expect(st.faults).toBe(1);
    expect(st.droppedByFault).toBe(2);
    expect(got.map((r) => [r.ts, r.targetTs])).toEqual([[700, 700], [2000, 3000]]);
    // After the fault the 5 s return restarts from the first post-fault book.
    expect(got[0]!.features[FEATURE_NAMES.indexOf("ret_5s")]).toBe(0);
  });
});

describe("features CLI via npm script arguments", () => {
  it("runs as `tsx tools/features/cli.ts` and rejects ambiguous captures", () => {
    const out = join(dir, "okx.csv");
    execFileSync(process.execPath, ["--import", "tsx", "tools/features/cli.ts", "--replay", DATA.okx20220513, "--out", out, "--horizon", "2", "--instId", "BTC-USDT"], {
      cwd: REPO_ROOT,
      stdio: "pipe",
    });
    const { rows } = readCsv(out);
    expect(rows.length).toBeGreaterThan(50);
    let err = "";
    try {
      execFileSync(process.execPath, ["--import", "tsx", "tools/features/cli.ts", "--replay", DATA.okx20220513, "--out", out], { cwd: REPO_ROOT, stdio: "pipe" });
    } catch (e) {
      err = String((e as { stderr: Buffer }).stderr);
    }
    expect(err).toMatch(/pass --instId/);
  });
});
