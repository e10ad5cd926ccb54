/**
 * `npm run features -- --replay FILE --out rows.csv [--horizon 60 | --horizons 10,60] [--instId X] [--no-checksum]`
 *
 * Runs the feature code the relay runs (src/features/, books and trades in the order received) over a capture and
 * writes one CSV row per book change:
 *   ts, mid, <FEATURE_NAMES...>, target_ts, target_mid, target_bps                 (one horizon)
 *   ts, mid, <FEATURE_NAMES...>, target_ts_10, target_mid_10, target_bps_10, ...  (several: suffix = horizon in s)
 * where target_bps is the realised log return of the mid over the horizon (see src/features/asof.ts for the
 * exact definition). Rows without every horizon are dropped. Numbers are written in JavaScript's shortest
 * round-trip form, so Python reads back exactly the doubles this code computed.
 * A sidecar `<out>.json` records the feature version, names, horizon, instrument, source and counts; the
 * training pipeline copies it into the model metadata.
 */
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { buildDataset, type DatasetStats } from "../../src/features/dataset.js";
import { FEATURE_NAMES, FEATURE_VERSION } from "../../src/features/features.js";
import { parseOkxMessage, type OkxMessage } from "../../src/okx/protocol.js";
import { receivedMessages } from "../lib/captures.js";

export interface FeaturesCliOptions {
  readonly replay: string;
  readonly out: string;
  /** One horizon (default 60 s) ... */
  readonly horizonSec?: number;
  /** ... or several (suffixed target columns). */
  readonly horizonsSec?: readonly number[];
  readonly instId?: string;
  readonly verifyChecksum?: boolean;
  readonly log?: (line: string) => void;
}

export interface FeaturesCliResult extends DatasetStats {
  readonly instId: string;
  readonly horizonsSec: readonly number[];
  readonly columns: readonly string[];
  readonly skippedLines: number;
  readonly metaPath: string;
}

/** CSV header: identifiers, features in FEATURE_NAMES order, then the target columns (suffixed when several). */
export function csvColumns(horizonsSec: readonly number[]): string[] {
  const sfx = (h: number) => (horizonsSec.length === 1 ? "" : `_${h}`);
  return [
    "ts",
    "mid",
    ...FEATURE_NAMES,
    ...horizonsSec.flatMap((h) => [`target_ts${sfx(h)}`, `target_mid${sfx(h)}`, `target_bps${sfx(h)}`]),
  ];
}

/** Parse every received message of a capture; malformed frames are counted, not fatal. */
function parseCapture(path: string): { messages: OkxMessage[]; skipped: number; bookInstruments: Map<string, number> } {
  const messages: OkxMessage[] = [];
  const bookInstruments = new Map<string, number>();
  let skipped = 0;
  for (const { json } of receivedMessages(path)) {
    let m: OkxMessage;
    try {
      m = parseOkxMessage(json);
    } catch {
      skipped++;
      continue;
    }
    if (m.kind === "books") bookInstruments.set(m.arg.instId, (bookInstruments.get(m.arg.instId) ?? 0) + 1);
    messages.push(m);
  }
  return { messages, skipped, bookInstruments };
}

/** Run the features CLI in-process (the tests call this; the npm script calls `main`). */
export function runFeaturesCli(o: FeaturesCliOptions): FeaturesCliResult {
  const log = o.log ?? (() => {});
  const horizonsSec = o.horizonsSec ?? [o.horizonSec ?? 60];
  const columns = csvColumns(horizonsSec);
  const { messages, skipped, bookInstruments } = parseCapture(o.replay);
  let instId = o.instId;
  if (instId === undefined) {
    if (bookInstruments.size !== 1) {
      throw new Error(
        `capture has books for ${bookInstruments.size} instruments (${[...bookInstruments.keys()].join(", ")}): pass --instId`,
      );
    }
    instId = [...bookInstruments.keys()][0]!;
  } else if (!bookInstruments.has(instId)) {
    throw new Error(`no books for ${instId} in ${o.replay} (has: ${[...bookInstruments.keys()].join(", ")})`);
  }

  const fd = openSync(o.out, "w");
  let buf: string[] = [columns.join(",")];
  const flush = () => {
    writeSync(fd, buf.join("\n") + "\n");
    buf = [];
  };
  let stats: DatasetStats;
  try {
    stats = buildDataset(messages, { instId, horizonsSec, verifyChecksum: o.verifyChecksum ?? true }, (row) => {
      const cells: (number | string)[] = [row.ts, row.mid];
      for (let i = 0; i < row.features.length; i++) cells.push(row.features[i]!);
      for (const t of row.targets) cells.push(t.ts, t.mid, t.bps);
      buf.push(cells.join(","));
      if (buf.length >= 4096) flush();
    });
    flush();
  } finally {
    closeSync(fd);
  }

  const metaPath = `${o.out}.json`;
  const meta = {
    featureVersion: FEATURE_VERSION,
    featureNames: FEATURE_NAMES,
    columns,
    // `horizonSec` (the first) is what training/train.py reads; `horizonsSec` lists them all.
    horizonSec: horizonsSec[0],
    horizonsSec,
    instId,
    source: basename(o.replay),
    ...stats,
    skippedLines: skipped,
  };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2) + "\n");
  log(
    `features ${FEATURE_VERSION}: ${instId} ${stats.books} books, ${stats.trades} trades -> ${stats.featureRows} feature rows, ` +
      `${stats.rows} with a ${horizonsSec.join(" / ")} s target (dropped: ${stats.droppedNoHorizon} without a full horizon, ${stats.droppedByFault} by ${stats.faults} faults; ${skipped} bad lines) -> ${o.out}`,
  );
  return { ...stats, instId, horizonsSec, columns, skippedLines: skipped, metaPath };
}

const USAGE =
  "usage: npm run features -- --replay FILE --out rows.csv [--horizon 60 | --horizons 10,60] [--instId X] [--no-checksum]";

function main(): void {
  const { values } = parseArgs({
    options: {
      replay: { type: "string" },
      out: { type: "string" },
      horizon: { type: "string" },
      horizons: { type: "string" },
      instId: { type: "string" },
      "no-checksum": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.replay || !values.out) {
    console.error(USAGE);
    process.exit(2);
  }
  if (values.horizon !== undefined && values.horizons !== undefined) {
    console.error("pass --horizon or --horizons, not both");
    process.exit(2);
  }
  const spec = values.horizons ?? values.horizon ?? "60";
  const horizonsSec = spec.split(",").map(Number);
  if (!horizonsSec.every((h) => h > 0) || new Set(horizonsSec).size !== horizonsSec.length) {
    console.error(`horizons must be distinct positive numbers of seconds, got ${spec}`);
    process.exit(2);
  }
  try {
    runFeaturesCli({
      replay: resolve(values.replay),
      out: resolve(values.out),
      horizonsSec,
      ...(values.instId !== undefined && { instId: values.instId }),
      verifyChecksum: !values["no-checksum"],
      log: (l) => console.error(l),
    });
  } catch (e) {
    console.error(`features: ${(e as Error).message}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
