import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { applyBook, createBook, type Book } from "../src/okx/book.js";
import { parseOkxMessage } from "../src/okx/protocol.js";
import { startExchange } from "../tools/exchange/server.js";
import { runFeaturesCli } from "../tools/features/cli.js";
import { DATA, readCapture, REPO_ROOT } from "../tools/lib/captures.js";
import { record } from "../tools/record/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tradesim-record-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Apply every recorded books push; the recording must be a valid, checksum-clean stream. */
function replayBooks(path: string) {
  const books = new Map<string, Book>();
  const faults: string[] = [];
  let snapshots = 0;
  let updates = 0;
  for (const rec of readCapture(path)) {
    if (rec.kind !== "recv") continue;
    const m = parseOkxMessage(rec.json);
    if (m.kind !== "books") continue;
    let b = books.get(m.arg.instId);
    if (!b) {
      b = createBook(m.arg.instId);
      books.set(m.arg.instId, b);
    }
    const r = applyBook(b, m.action, m.data);
    if (!r.ok) faults.push(`${r.fault}: ${r.detail}`);
    if (m.action === "snapshot") snapshots++;
    else updates++;
  }
  return { books, faults, snapshots, updates };
}

describe("npm run record against the local exchange", () => {
  it("records books + trades into a gzipped capture that replays checksum-clean and feeds the features CLI", async () => {
    // The 2022-05-13 OKX capture (BTC-USDT books + trades), looped at 20x: ~2 s per loop.
    const ex = await startExchange({ replay: [DATA.okx20220513], port: 0, speed: 20, loop: true });
    const out = join(dir, "btc.txt.gz");
    const progress: number[] = [];
    try {
      const s = await record({
        url: ex.url,
        instIds: ["BTC-USDT"],
        out,
        durationSec: 3,
        onProgress: (p) => progress.push(p.messages),
      });
      expect(s.stopReason).toBe("duration");
      expect(s.connects).toBe(1);
      expect(s.subscribed).toBe(2);
      expect(s.books).toBeGreaterThan(20);
      expect(s.trades).toBeGreaterThan(0);
      expect(progress.length).toBeGreaterThanOrEqual(2);

      // Complete gzip, cryptofeed line format: connect line, the subscribe request, then received frames.
      const text = gunzipSync(readFileSync(out)).toString("utf8");
      const recs = readCapture(out);
      expect(recs.length).toBe(text.trimEnd().split("\n").length);
      expect(recs[0]).toMatchObject({ kind: "connect", url: ex.url });
      expect(recs[1]).toMatchObject({ kind: "sent", url: ex.url });
      expect(JSON.parse((recs[1] as { json: string }).json)).toEqual({
        op: "subscribe",
        args: [
          { channel: "books", instId: "BTC-USDT" },
          { channel: "trades", instId: "BTC-USDT" },
        ],
      });
      const recv = recs.filter((r) => r.kind === "recv");
      expect(recv.length).toBe(s.messages);
      for (let i = 1; i < recv.length; i++) expect(recv[i]!.t).toBeGreaterThanOrEqual(recv[i - 1]!.t);

      const r = replayBooks(out);
      expect(r.faults).toEqual([]);
      expect(r.snapshots).toBeGreaterThanOrEqual(1);
      expect(r.snapshots + r.updates).toBe(s.books);

      // What the exchange replays and the features CLI reads.
      const ex2 = await startExchange({ replay: [out], port: 0, speed: 50 });
      try {
        expect(ex2.timeline.bookInstruments.has("BTC-USDT")).toBe(true);
      } finally {
        await ex2.close();
      }
      const f = runFeaturesCli({ replay: out, out: join(dir, "rec.csv"), horizonSec: 0.5 });
      expect(f.faults).toBe(0);
      expect(f.rows).toBeGreaterThan(5);
    } finally {
      await ex.close();
    }
  });

  it.each([
    { name: "keepalive ping holds an idle connection open", pingIntervalMs: 300, reconnects: false },
    {
      name: "without pings the exchange closes it and the recorder reconnects",
      pingIntervalMs: 60_000,
      reconnects: true,
    },
  ])("$name", async ({ pingIntervalMs, reconnects }) => {
    // Replay finishes at once, then the stream is silent: only pings keep the socket alive (idle limit 1 s, checked
    // every second; the recorder retries after 1 s).
    const ex = await startExchange({
      replay: [DATA.okx20220513],
      port: 0,
      speed: Infinity,
      loop: false,
      idleTimeoutMs: 1000,
    });
    try {
      const s = await record({
        url: ex.url,
        instIds: ["BTC-USDT"],
        channels: ["books"],
        out: join(dir, `idle-${pingIntervalMs}.txt`),
        durationSec: 4,
        pingIntervalMs,
      });
      if (reconnects) expect(s.connects).toBeGreaterThanOrEqual(2);
      else expect(s.connects).toBe(1);
      // Each connection got a snapshot of the exchange's book.
      expect(replayBooks(join(dir, `idle-${pingIntervalMs}.txt`)).snapshots).toBe(s.connects);
    } finally {
      await ex.close();
    }
  });

  it("an OKX error (unknown instId) stops the recording with that error", async () => {
    const ex = await startExchange({ replay: [DATA.okx20220513], port: 0, speed: 20, loop: true });
    try {
      await expect(
        record({ url: ex.url, instIds: ["NOPE-USDT"], out: join(dir, "err.txt"), durationSec: 5 }),
      ).rejects.toThrow(/OKX error 60018/);
    } finally {
      await ex.close();
    }
  });

  it("the CLI stops cleanly on SIGINT with a complete gzip file", async () => {
    const ex = await startExchange({ replay: [DATA.okx20220513], port: 0, speed: 20, loop: true });
    const out = join(dir, "sigint.txt.gz");
    try {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "tools/record/cli.ts", "--instId", "BTC-USDT", "--out", out, "--url", ex.url],
        {
          cwd: REPO_ROOT,
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
      const deadline = Date.now() + 15_000;
      while (!stderr.includes("connected") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toContain("connected");
      await new Promise((r) => setTimeout(r, 1200));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/stopped \(signal\)/);
      expect(stderr).toMatch(/\d+ messages, \d+ books, \d+ trades/);
      const r = replayBooks(out); // gunzips: throws on a truncated file
      expect(r.faults).toEqual([]);
      expect(r.snapshots + r.updates).toBeGreaterThan(5);
    } finally {
      await ex.close();
    }
  });
});
