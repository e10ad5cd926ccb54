/**
 * The TypeScript SDK (packages/sdk-ts) in Node 24 with its global WebSocket against the real stack: the local OKX
 * exchange replaying the bundled real BTC-USDT-SWAP capture and `wrangler dev` (test/e2e/stack.ts).
 *
 * Faults come from where they happen in production: the exchange's control API (POST /__control/fault) for an
 * upstream checksum error and an upstream connection drop, and a transparent WebSocket proxy between the SDK and
 * the Worker (as a broken middlebox would) for a tampered book and a dropped client link.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import {
  TradeSimApiError,
  TradeSimClient,
  type BookMessage,
  type ChecksumMismatch,
  type StateEvent,
} from "../../packages/sdk-ts/src/index.js";
import { ASYNCAPI_FILE } from "../../asyncapi/build.js";
import { asyncApiValidator } from "../../asyncapi/validate.js";
import { REPO_ROOT } from "../../tools/lib/captures.js";
import { startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";

let stack: Stack;
let proxy: Proxy;

/** Polls `pred` every 25 ms until true or `timeoutMs` (then throws with `label`). */
async function until(pred: () => boolean, timeoutMs: number, label: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Proxy {
  readonly baseUrl: string;
  /** Client -> Worker text frames, in order. */
  readonly fromClient: string[];
  /** Worker -> client text frames as the Worker sent them, with the request path. */
  readonly fromServer: { path: string; text: string }[];
  connections: number;
  /** Alter the next book frame (one size off by one contract). */
  tamperNext: boolean;
  /** Close every client-side socket abruptly (1006 for the client). */
  dropClients(): void;
  close(): Promise<void>;
}

/** A transparent WebSocket proxy to `target` (http://host:port). */
async function startProxy(target: string): Promise<Proxy> {
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server });
  const clients = new Set<WebSocket>();
  // Filled in once the server listens; the connection handler below only touches the mutable fields.
  const p: { -readonly [K in keyof Proxy]: Proxy[K] } = {
    baseUrl: "",
    fromClient: [],
    fromServer: [],
    connections: 0,
    tamperNext: false,
    dropClients: () => {
      for (const c of clients) c.terminate();
    },
    close: async () => {
      for (const c of clients) c.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  wss.on("connection", (client, req) => {
    p.connections++;
    clients.add(client);
    const upstream = new WebSocket(`${target.replace(/^http/, "ws")}${req.url}`);
    const queued: string[] = [];
    client.on("message", (data) => {
      const text = String(data);
      p.fromClient.push(text);
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else queued.push(text);
    });
    upstream.on("open", () => {
      for (const q of queued.splice(0)) upstream.send(q);
    });
    upstream.on("message", (data) => {
      let text = String(data);
      p.fromServer.push({ path: new URL(req.url ?? "/", "http://x").pathname, text });
      if (p.tamperNext && text.startsWith('{"type":"book"')) {
        p.tamperNext = false;
        const book = JSON.parse(text) as BookMessage;
        book.bids[0]![1] = String(Number(book.bids[0]![1]) + 1);
        text = JSON.stringify(book);
      }
      if (client.readyState === WebSocket.OPEN) client.send(text);
    });
    const end = () => {
      clients.delete(client);
      client.terminate();
      upstream.terminate();
    };
    client.on("close", end);
    upstream.on("close", end);
    upstream.on("error", end);
    client.on("error", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  p.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return p;
}

/** POST /__control/fault on the local exchange (its HTTP control API, as an operator would). */
async function injectFault(type: "checksum" | "drop"): Promise<number> {
  const res = await fetch(`${stack.exchange.httpUrl}/__control/fault`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type, after: 0, scope: "all", instId: INST }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { armed: number }).armed;
}

beforeAll(async () => {
  stack = await startStack();
  proxy = await startProxy(stack.baseUrl);
});

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

describe("TypeScript SDK against wrangler dev + the local exchange", () => {
  it("subscribeBook: verified books at the requested depth, acked, state live, age measured", async () => {
    const ts = new TradeSimClient({ baseUrl: stack.baseUrl });
    const sub = ts.subscribeBook(INST, { depth: 5 });
    const books: BookMessage[] = [];
    let opens = 0;
    const socketOf = new Map<BookMessage, number>();
    sub.on("link", (l) => {
      if (l.kind === "open") opens++;
    });
    sub.on("book", (b) => {
      books.push(b);
      socketOf.set(b, opens);
    });
    try {
      await until(() => books.length >= 20, 60_000, "20 verified books");
      expect(sub.state.state).toBe("live");
      expect(sub.stats.mismatches).toBe(0);
      expect(sub.stats.verified).toBeGreaterThanOrEqual(20);
      for (const b of books) {
        expect(b.instId).toBe(INST);
        expect(b.bids.length).toBeLessThanOrEqual(5);
        expect(b.asks.length).toBeLessThanOrEqual(5);
        expect(Number(b.bids[0]![0])).toBeLessThan(Number(b.asks[0]![0]));
      }
      // seq is per relay instance: it only increases on one socket (wrangler dev reloads when web/dist changes).
      for (let i = 1; i < books.length; i++) {
        if (socketOf.get(books[i]!) === socketOf.get(books[i - 1]!))
          expect(books[i]!.seq).toBeGreaterThan(books[i - 1]!.seq);
      }
      // The exchange replays with live-looking timestamps: the book's age is small and positive (loopback).
      const age = sub.ageMs()!;
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(10_000);
      // Keepalive: the text ping sent on open was answered `pong` (by the runtime, without waking the relay).
      expect(sub.rttMs).not.toBeNull();
      expect(sub.rttMs!).toBeLessThan(5_000);
    } finally {
      sub.close();
    }
  });

  it("acks every book it hands out (seen on the wire through the proxy)", async () => {
    const ts = new TradeSimClient({ baseUrl: proxy.baseUrl });
    const sub = ts.subscribeBook(INST, { depth: 25 });
    const seqs: number[] = [];
    sub.on("book", (b) => seqs.push(b.seq));
    try {
      const before = proxy.fromClient.length;
      await until(() => seqs.length >= 10, 60_000, "10 books");
      await new Promise((r) => setTimeout(r, 200));
      const acks = proxy.fromClient
        .slice(before)
        .filter((f) => f.startsWith("{"))
        .map((f) => JSON.parse(f) as { op: string; seq: number });
      expect(acks.every((a) => a.op === "ack")).toBe(true);
      expect(acks.map((a) => a.seq).slice(0, seqs.length)).toEqual(seqs.slice(0, acks.length));
      expect(acks.length).toBeGreaterThanOrEqual(10);
    } finally {
      sub.close();
    }
  });

  it("reports the exchange's checksum fault (relay mismatch, resync) and goes on with verified books", async () => {
    const ts = new TradeSimClient({ baseUrl: stack.baseUrl });
    const sub = ts.subscribeBook(INST);
    const mismatches: ChecksumMismatch[] = [];
    const states: StateEvent[] = [];
    sub.on("mismatch", (m) => mismatches.push(m));
    sub.on("state", (s) => states.push(s));
    try {
      await until(() => sub.state.state === "live" && sub.stats.verified > 0, 60_000, "live");
      expect(await injectFault("checksum")).toBeGreaterThan(0);
      await until(() => mismatches.length > 0, 30_000, "the mismatch event");
      expect(mismatches[0]).toMatchObject({ source: "relay", instId: INST });
      const verified = sub.stats.verified;
      await until(
        () => sub.state.state === "live" && sub.stats.verified > verified + 3,
        30_000,
        "live again with new books",
      );
      expect(states).toContainEqual({ state: "resyncing", reason: "checksum" });
      expect(sub.stats.mismatches).toBe(0); // the relay never forwarded the bad book
    } finally {
      sub.close();
    }
  });

  it("reports a book tampered in transit as a client mismatch and never hands it out", async () => {
    const ts = new TradeSimClient({ baseUrl: proxy.baseUrl });
    const sub = ts.subscribeBook(INST);
    const mismatches: ChecksumMismatch[] = [];
    const books: BookMessage[] = [];
    sub.on("mismatch", (m) => mismatches.push(m));
    sub.on("book", (b) => books.push(b));
    try {
      await until(() => books.length > 0, 60_000, "a book");
      proxy.tamperNext = true;
      await until(() => mismatches.length > 0, 30_000, "the mismatch event");
      const m = mismatches[0]!;
      expect(m).toMatchObject({ source: "client", instId: INST });
      expect(m.computed).not.toBe(m.expected);
      expect(books.map((b) => b.seq)).not.toContain(m.seq);
      const n = books.length;
      await until(() => books.length > n + 2, 30_000, "books after the mismatch");
      expect(sub.state.state).toBe("live");
      expect(sub.stats.mismatches).toBe(1);
    } finally {
      sub.close();
    }
  });

  it("survives the exchange dropping the relay's upstream (drop fault): down/connecting, then live with verified books", async () => {
    const ts = new TradeSimClient({ baseUrl: stack.baseUrl });
    const sub = ts.subscribeBook(INST);
    const states: StateEvent[] = [];
    sub.on("state", (s) => states.push(s));
    try {
      await until(() => sub.state.state === "live" && sub.stats.verified > 0, 60_000, "live");
      expect(await injectFault("drop")).toBeGreaterThan(0);
      await until(() => states.some((s) => s.state === "down"), 30_000, "down");
      const verified = sub.stats.verified;
      await until(() => sub.state.state === "live" && sub.stats.verified > verified + 3, 30_000, "live again");
      expect(states.find((s) => s.state === "down")!.reason).toMatch(/closed 1006/);
      expect(sub.stats.mismatches).toBe(0);
      expect(sub.linkState.kind).toBe("open"); // the client's own socket never dropped
    } finally {
      sub.close();
    }
  });

  it("reconnects its own socket with backoff when the link drops, and books flow again", async () => {
    const ts = new TradeSimClient({ baseUrl: proxy.baseUrl, link: { backoffBaseMs: 200 } });
    const sub = ts.subscribeBook(INST);
    const kinds: string[] = [];
    sub.on("link", (l) => kinds.push(l.kind));
    try {
      await until(() => sub.stats.verified > 0, 60_000, "a book");
      const conns = proxy.connections;
      proxy.dropClients();
      await until(() => kinds.includes("reconnecting"), 10_000, "reconnecting");
      const verified = sub.stats.verified;
      await until(
        () => sub.linkState.kind === "open" && sub.stats.verified > verified + 2,
        30_000,
        "books on the new socket",
      );
      expect(proxy.connections).toBe(conns + 1);
      expect(sub.stats.reconnects).toBe(1);
      expect(sub.stats.mismatches).toBe(0);
    } finally {
      sub.close();
    }
  });

  it("simulateTrade on the SDK's live book: a buy fills from the best ask; bad input is a typed 400", async () => {
    const ts = new TradeSimClient({ baseUrl: stack.baseUrl });
    const sub = ts.subscribeBook(INST, { depth: 50 });
    try {
      await until(() => sub.book !== null, 60_000, "a book");
      const b = sub.book!;
      const r = await ts.simulateTrade({
        instId: INST,
        side: "buy",
        contracts: 1,
        orderbook: { bids: b.bids, asks: b.asks, ts: b.ts },
      });
      expect(r.fill.bestPrice).toBe(Number(b.asks[0]![0]));
      expect(r.fill.filledContracts).toBe(1);
      const err = await ts
        .simulateTrade({ instId: INST, side: "buy", contracts: 0, orderbook: { bids: b.bids, asks: b.asks } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TradeSimApiError);
      expect(err).toMatchObject({ status: 400, path: "contracts" });
    } finally {
      sub.close();
    }
  });

  it("subscribePredictions: a forecast for the instrument, acked", async () => {
    const ts = new TradeSimClient({ baseUrl: stack.baseUrl });
    const sub = ts.subscribePredictions(INST);
    try {
      await until(() => sub.prediction !== null, 30_000, "a prediction");
      const p = sub.prediction!;
      expect(p.instId).toBe(INST);
      expect(p.horizons.length).toBeGreaterThan(0);
      for (const h of p.horizons) {
        expect(h.horizonSec).toBeGreaterThan(0);
        expect(h.low).toBeLessThanOrEqual(h.predictedMid);
        expect(h.high).toBeGreaterThanOrEqual(h.predictedMid);
      }
    } finally {
      sub.close();
    }
  });

  it("the README example (packages/sdk-ts/examples/book.ts) runs: verified books, then a simulated buy", async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
      execFile(
        `${REPO_ROOT}/node_modules/.bin/tsx`,
        ["packages/sdk-ts/examples/book.ts", stack.baseUrl, INST, "3"],
        { cwd: REPO_ROOT, timeout: 60_000 },
        (err, stdout, stderr) => res({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^state live$/m);
    expect(out.stdout).toMatch(
      /^seq \d+ bid \d+(\.\d+)? x [\d.]+ {2}ask \d+(\.\d+)? x [\d.]+ {2}age -?\d+ ms {2}crc ok$/m,
    );
    expect(out.stdout).toMatch(/^buy 1 contract: avg \d+(\.\d+)?, slippage [\d.]+ bps vs mid$/m);
    expect(out.stdout).toMatch(/^verified [1-9]\d* books, 0 mismatches$/m);
  });

  it("every frame the relay sent in these tests matches the AsyncAPI document's schemas (ajv)", async () => {
    // A prediction stream and a non-fatal error through the proxy, so each message kind is on the record.
    const ts = new TradeSimClient({ baseUrl: proxy.baseUrl });
    const pred = ts.subscribePredictions(INST);
    const raw = new WebSocket(`${proxy.baseUrl.replace(/^http/, "ws")}/ws/okx?instId=${INST}&depth=3`);
    try {
      await until(() => pred.prediction !== null, 30_000, "a prediction");
      if (raw.readyState !== WebSocket.OPEN) await new Promise<void>((r) => raw.once("open", () => r()));
      raw.send("not an ack");
      await until(() => proxy.fromServer.some((f) => f.text.includes('"code":"bad_message"')), 10_000, "bad_message");
    } finally {
      pred.close();
      raw.close();
    }
    const doc = JSON.parse(readFileSync(ASYNCAPI_FILE, "utf8")) as { components: { schemas: Record<string, unknown> } };
    const byType = {
      book: asyncApiValidator(doc, "BookMessage"),
      status: asyncApiValidator(doc, "StatusMessage"),
      error: asyncApiValidator(doc, "ErrorMessage"),
      prediction: asyncApiValidator(doc, "PredictionMessage"),
      score: asyncApiValidator(doc, "ScoreMessage"),
      lagging: asyncApiValidator(doc, "LaggingMessage"),
    };
    const allowed: Record<string, string[]> = {
      "/ws/okx": ["book", "lagging", "status", "error"],
      "/ws/prediction": ["prediction", "score", "status", "error"],
    };
    const seen = new Set<string>();
    let checked = 0;
    for (const { path, text } of proxy.fromServer) {
      if (text === "pong") continue;
      const m = JSON.parse(text) as { type: keyof typeof byType };
      expect(allowed[path], path).toContain(m.type);
      const validate = byType[m.type];
      expect(validate(m), `${text.slice(0, 200)}: ${JSON.stringify(validate.errors)}`).toBe(true);
      seen.add(m.type);
      checked++;
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining(["book", "error", "prediction", "status"]));
    expect(checked).toBeGreaterThan(30);
  });
});
