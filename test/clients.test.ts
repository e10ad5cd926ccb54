/**
 * Real OKX clients against the local exchange: ccxt pro (Node) over ws:// and cryptofeed (Python) over wss:// (the
 * exchange's --tls). Each must end up with the exchange's book: every level of its 400-level book equal to the
 * exchange's at the same seqId, hence the same OKX checksum. Recipes: tools/clients/README.md.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { okxChecksum } from "../src/okx/checksum.js";
import { okxClient } from "../tools/clients/ccxt-okx.js";
import { startExchange, type Exchange } from "../tools/exchange/server.js";
import { selfSignedCert } from "../tools/exchange/tls.js";
import { DATA, REPO_ROOT } from "../tools/lib/captures.js";

const INST = "BTC-USDT-SWAP";
const pxsz = (ls: readonly [string, string][]) => ls.map(([px, sz]) => ({ px, sz }));
/** Numeric levels (ccxt parses prices and sizes to numbers). */
const num = (ls: readonly [string, string][]) => ls.map(([px, sz]) => [Number(px), Number(sz)]);

describe("ccxt pro (okx) against the local exchange", () => {
  let ex: Exchange;
  beforeAll(async () => {
    ex = await startExchange({
      replay: [DATA.btcSwap],
      port: 0,
      speed: 4,
      loop: true,
      connectionsPerSecond: 0,
      bookHistory: 4000,
    });
  });
  afterAll(async () => ex.close());

  it("watchOrderBook (books, 400 levels): ccxt's book equals the exchange's at every seqId it reports", async () => {
    const client = await okxClient(ex.httpUrl);
    try {
      let compared = 0;
      for (let i = 0; i < 40; i++) {
        const ob = await client.watchOrderBook("BTC/USDT:USDT");
        // compare before the next message mutates ob (messages are handled in later macrotasks)
        const view = ex.view(INST, 400, ob.nonce as number);
        expect(view, `exchange kept no book at seqId ${ob.nonce}`).toBeDefined();
        expect(ob.bids.length).toBe(400);
        expect(ob.bids.map(([p, s]) => [p, s])).toEqual(num(view!.bids));
        expect(ob.asks.map(([p, s]) => [p, s])).toEqual(num(view!.asks));
        // so its top 25 hash to the exchange's checksum (the view's own strings)
        expect(okxChecksum(pxsz(view!.bids), pxsz(view!.asks))).toBe(view!.checksum);
        compared++;
      }
      expect(compared).toBe(40);
      expect(client.markets?.["BTC/USDT:USDT"]).toMatchObject({ id: INST, contractSize: 0.01, linear: true });
    } finally {
      await client.close();
    }
  });

  it.each([
    [5, "books5"],
    [1, "bbo-tbt"],
  ] as const)("watchOrderBook with limit %i (%s): the top of the exchange's book", async (limit, _channel) => {
    const client = await okxClient(ex.httpUrl);
    try {
      for (let i = 0; i < 15; i++) {
        const ob = await client.watchOrderBook("BTC/USDT:USDT", limit);
        expect(ob.bids.length).toBe(limit);
        expect(ob.asks.length).toBe(limit);
        // ccxt keeps no seqId for these channels: find the exchange's book this top came from
        const bids = ob.bids.map(([p, s]) => [p, s]);
        const asks = ob.asks.map(([p, s]) => [p, s]);
        const match = ex
          .recent(INST)
          .slice(-400)
          .some((r) => {
            const v = ex.view(INST, limit, r.seqId);
            return (
              v !== undefined &&
              JSON.stringify(num(v.bids)) === JSON.stringify(bids) &&
              JSON.stringify(num(v.asks)) === JSON.stringify(asks)
            );
          });
        expect(match, `top ${JSON.stringify([bids, asks])} is no recent book of the exchange`).toBe(true);
      }
    } finally {
      await client.close();
    }
  });
});

describe("cryptofeed (Python) against the local exchange over TLS", () => {
  const python = resolve(REPO_ROOT, "tools/clients/.venv/bin/python");
  let ex: Exchange;
  let dir: string;
  let setupError: string | null = null;
  beforeAll(async () => {
    // The venv (git-ignored) is made once from PyPI; only a failed install skips this test.
    if (!existsSync(python) || spawnSync(python, ["-c", "import cryptofeed"]).status !== 0) {
      const r = spawnSync("bash", [resolve(REPO_ROOT, "tools/clients/setup.sh")], {
        encoding: "utf8",
        timeout: 600_000,
      });
      if (r.status !== 0)
        setupError = `tools/clients/setup.sh failed (${r.status}): ${(r.stderr || r.stdout).slice(-400)}`;
    }
    dir = mkdtempSync(join(tmpdir(), "tradesim-cryptofeed-"));
    const tls = await selfSignedCert(["127.0.0.1"]);
    writeFileSync(join(dir, "cert.pem"), tls.cert);
    ex = await startExchange({
      replay: [DATA.btcSwap],
      port: 0,
      speed: 4,
      loop: true,
      connectionsPerSecond: 0,
      bookHistory: 4000,
      tls,
    });
  }, 620_000);
  afterAll(async () => {
    await ex?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("cryptofeed's OKX feed (wss://, self-signed certificate trusted via SSL_CERT_FILE) holds the exchange's book", async (ctx) => {
    if (setupError) {
      console.warn(`[clients] SKIPPED cryptofeed: could not install it from PyPI: ${setupError}`);
      ctx.skip();
    }
    expect(ex.url).toMatch(/^wss:\/\//);
    const child = spawn(
      python,
      [resolve(REPO_ROOT, "tools/clients/cryptofeed_okx.py"), ex.httpUrl, "BTC-USDT-PERP", "40", "400"],
      {
        env: { ...process.env, SSL_CERT_FILE: join(dir, "cert.pem"), XDG_CACHE_HOME: dir },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const lines: { seqId: number; checksum: number; bids: [string, string][]; asks: [string, string][] }[] = [];
    const views: ReturnType<Exchange["view"]>[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      const b = JSON.parse(line) as (typeof lines)[number];
      lines.push(b);
      views.push(ex.view(INST, 400, b.seqId)); // at once: the history moves on
    }
    expect(lines.length, `cryptofeed printed ${lines.length} books; stderr: ${stderr.slice(-800)}`).toBe(40);
    lines.forEach((b, i) => {
      const v = views[i];
      expect(v, `exchange kept no book at seqId ${b.seqId}`).toBeDefined();
      expect(b.bids).toEqual(v!.bids); // original strings: cryptofeed keeps Decimals
      expect(b.asks).toEqual(v!.asks);
      expect(b.checksum).toBe(v!.checksum);
    });
    // the connection went through the TLS listener and subscribed books once
    expect(Object.values(ex.connections().subscribes)).toEqual([1]);
  }, 120_000);
});
