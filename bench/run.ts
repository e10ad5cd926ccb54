/**
 * `npm run bench [-- --quick] [-- --only book,simulate,...]`: runs the benchmarks, prints a table, writes
 * bench/results.json. `--quick` is the CI smoke mode (tiny durations; checks the benchmarks still run).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchBook } from "./book.js";
import { benchBundle } from "./bundle.js";
import { benchFanout } from "./fanout.js";
import { benchLink } from "./link.js";
import { benchShards } from "./shards.js";
import { benchFaultsLoad } from "./faults-load.js";
import { benchMemory } from "./memory.js";
import { benchPredict } from "./predict.js";
import { benchRecovery } from "./recovery.js";
import { benchSimulate } from "./simulate.js";
import { benchSoak } from "./soak.js";
import { benchStaleness } from "./staleness.js";
import { fmt, type Result } from "./lib.js";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" } } });
const quick = values.quick;
const only = values.only?.split(",");
const want = (s: string) => !only || only.includes(s);

const sections: Record<string, Result[]> = {};
// Results of a previous full run are kept for the sections not re-run (`--only`), so results.json stays complete.
const resultsUrl = join(dirname(fileURLToPath(import.meta.url)), "results.json");
let previous: Record<string, Result[]> = {};
try {
  previous = (JSON.parse(readFileSync(resultsUrl, "utf8")) as { sections?: Record<string, Result[]> }).sections ?? {};
} catch {
  // first run
}

const runners: [string, () => Result[] | Promise<Result[]>][] = [
  ["book", () => benchBook(quick)],
  ["simulate", () => benchSimulate(quick)],
  ["predict", () => benchPredict(quick)],
  ["bundle", () => benchBundle(quick)],
  ["memory", () => benchMemory(quick)],
  ["recovery", () => benchRecovery(quick)],
  ["fanout", () => benchFanout(quick)],
  ["faults", () => benchFaultsLoad(quick)],
  ["soak", () => benchSoak(quick)],
  ["link", () => benchLink(quick)],
  ["shards", () => benchShards(quick)],
  ["staleness", () => benchStaleness(quick)],
];
const lines: string[] = [];
for (const [name, run] of runners) {
  if (!want(name)) continue;
  const t0 = performance.now();
  sections[name] = await run();
  const block = [`\n## ${name} (${((performance.now() - t0) / 1000).toFixed(0)} s)`];
  for (const r of sections[name])
    block.push(
      `${r.name.padEnd(100)} ${fmt(r.value, r.unit === "x" ? 2 : 1).padStart(12)} ${r.unit}${r.note ? `  (${r.note})` : ""}`,
    );
  console.log(block.join("\n"));
  lines.push(...block);
}
if (!quick) {
  writeFileSync(
    resultsUrl,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus()[0]?.model,
        cores: cpus().length,
        sections: { ...previous, ...sections },
      },
      null,
      2,
    ) + "\n",
  );
}
