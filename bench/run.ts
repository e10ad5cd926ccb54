/**
 * `npm run bench [-- --quick] [-- --only book,simulate,...]`: runs the benchmarks, prints a table, writes
 * bench/results.json. `--quick` is the CI smoke mode (tiny durations; checks the benchmarks still run).
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { benchBook } from "./book.js";
import { benchBundle } from "./bundle.js";
import { benchFanout } from "./fanout.js";
import { benchMemory } from "./memory.js";
import { benchPredict } from "./predict.js";
import { benchRecovery } from "./recovery.js";
import { benchSimulate } from "./simulate.js";
import { fmt, type Result } from "./lib.js";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" } } });
const quick = values.quick;
const only = values.only?.split(",");
const want = (s: string) => !only || only.includes(s);

const sections: Record<string, Result[]> = {};
if (want("book")) sections.book = benchBook(quick);
if (want("simulate")) sections.simulate = await benchSimulate(quick);
if (want("fanout")) sections.fanout = await benchFanout(quick);
if (want("predict")) sections.predict = benchPredict(quick);
if (want("memory")) sections.memory = await benchMemory(quick);
if (want("bundle")) sections.bundle = await benchBundle(quick);
if (want("recovery")) sections.recovery = await benchRecovery(quick);

const lines: string[] = [];
for (const [sec, rs] of Object.entries(sections)) {
  lines.push(`\n## ${sec}`);
  for (const r of rs) lines.push(`${r.name.padEnd(96)} ${fmt(r.value).padStart(12)} ${r.unit}${r.note ? `  (${r.note})` : ""}`);
}
console.log(lines.join("\n"));
if (!quick) {
  writeFileSync(
    new URL("./results.json", import.meta.url),
    JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, sections }, null, 2) + "\n",
  );
}
