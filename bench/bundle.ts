/**
 * Deployable size: what `wrangler deploy` would upload, from `wrangler deploy --dry-run --outdir <tmp>`.
 *
 * Cloudflare limits the compressed size of the whole upload (every module: the main script, the ONNX runtime's
 * .wasm, the model), not of one file: 3 MiB on the free plan, 10 MiB on the paid one. wrangler measures it as
 * gzip (zlib's default level) of all modules concatenated, and prints it as "Total Upload: X KiB / gzip: Y KiB";
 * that line is the reported number, and the same computation over the files in --outdir cross-checks it.
 * Source maps (index.js.map) and wrangler's README.md are written to --outdir but not uploaded; static assets
 * ([assets], web/dist) are uploaded separately and do not count towards the Worker size.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify, stripVTControlCharacters } from "node:util";
import { gzipSync } from "node:zlib";
import { REPO_ROOT } from "../tools/lib/captures.js";
import type { Result } from "./lib.js";

const KIB = 1024;
/** Workers script size limits, compressed (gzip), in KiB. */
const FREE_LIMIT_KIB = 3 * KIB;
const PAID_LIMIT_KIB = 10 * KIB;

interface BundleSize {
  rawBytes: number;
  gzipBytes: number;
  /** wrangler's own "Total Upload" figures in KiB, when it printed them. */
  wrangler?: { rawKiB: number; gzipKiB: number };
  modules: { name: string; rawBytes: number; gzipBytes: number }[];
}

/** Run the dry-run deploy into a temporary directory and measure it. */
async function measureBundle(): Promise<BundleSize> {
  const out = mkdtempSync(join(tmpdir(), "tradesim-bundle-"));
  try {
    const { stdout, stderr } = await promisify(execFile)(
      resolve(REPO_ROOT, "node_modules/.bin/wrangler"),
      ["deploy", "--dry-run", "--outdir", out],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    const text = stripVTControlCharacters(stdout + stderr);
    const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(text);
    const files = readdirSync(out).filter((f) => f !== "README.md" && !f.endsWith(".map"));
    if (files.length === 0) throw new Error(`wrangler deploy --dry-run wrote no modules:\n${text.slice(-2000)}`);
    // wrangler concatenates [...modules, main]; the main script is the .js/.mjs file without a content-hash prefix.
    const isMain = (f: string) => /\.m?js$/.test(f) && !/^[0-9a-f]{40}-/.test(f);
    const ordered = [...files.filter((f) => !isMain(f)), ...files.filter(isMain)];
    const contents = ordered.map((f) => readFileSync(join(out, f)));
    const all = Buffer.concat(contents);
    return {
      rawBytes: all.length,
      gzipBytes: gzipSync(all).length,
      wrangler: m ? { rawKiB: Number(m[1]), gzipKiB: Number(m[2]) } : undefined,
      modules: ordered.map((f, i) => ({
        name: f.replace(/^[0-9a-f]{40}-/, ""),
        rawBytes: contents[i]!.length,
        gzipBytes: gzipSync(contents[i]!).length,
      })),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const kib = (bytes: number) => bytes / KIB;

/**
 * Total raw and gzip size of the upload, per-module sizes, and the plan limits (all in KiB). The size is
 * deterministic (unlike timings), so the smoke run (`quick`, what `npm test` runs) fails when the upload is over
 * the free plan's 3 MiB: a deploy would be refused.
 */
export async function benchBundle(quick: boolean): Promise<Result[]> {
  const b = await measureBundle();
  const gzipKiB = b.wrangler?.gzipKiB ?? kib(b.gzipBytes);
  const rawKiB = b.wrangler?.rawKiB ?? kib(b.rawBytes);
  if (quick && gzipKiB > FREE_LIMIT_KIB) {
    const top = [...b.modules].sort((x, y) => y.gzipBytes - x.gzipBytes).slice(0, 3);
    throw new Error(
      `bundle: the upload is ${gzipKiB.toFixed(1)} KiB gzip, over the free plan's ${FREE_LIMIT_KIB} KiB (largest modules, gzip alone: ${top.map((m) => `${m.name} ${kib(m.gzipBytes).toFixed(1)} KiB`).join(", ")})`,
    );
  }
  const headroom = FREE_LIMIT_KIB - gzipKiB;
  const check = b.wrangler
    ? `wrangler's figure; recomputed from --outdir: ${kib(b.rawBytes).toFixed(1)} KiB raw, ${kib(b.gzipBytes).toFixed(1)} KiB gzip`
    : "recomputed from --outdir (wrangler printed no Total Upload line)";
  const results: Result[] = [
    { name: "bundle: total upload, raw", value: rawKiB, unit: "KiB", note: `${b.modules.length} modules` },
    {
      name: "bundle: total upload, gzip (what the Workers limit counts)",
      value: gzipKiB,
      unit: "KiB",
      note: `${check}; ${gzipKiB <= FREE_LIMIT_KIB ? "within" : "OVER"} the free plan, ${gzipKiB <= PAID_LIMIT_KIB ? "within" : "OVER"} the paid plan`,
    },
    {
      name: "bundle: free-plan headroom (3 MiB gzip limit minus total)",
      value: headroom,
      unit: "KiB",
      note: headroom >= 0 ? "fits" : "over the limit",
    },
    { name: "bundle: free-plan limit (gzip)", value: FREE_LIMIT_KIB, unit: "KiB" },
    { name: "bundle: paid-plan limit (gzip)", value: PAID_LIMIT_KIB, unit: "KiB" },
  ];
  for (const m of b.modules) {
    results.push({
      name: `bundle: module ${m.name}, raw`,
      value: kib(m.rawBytes),
      unit: "KiB",
      note: `gzip alone ${kib(m.gzipBytes).toFixed(1)} KiB`,
    });
  }
  return results;
}
