/**
 * Test helpers for workerd integration tests: a WebSocket client with message-wait helpers that time out, and
 * access to the local exchange's control API.
 */
import { env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { okxChecksum } from "../../src/okx/checksum.js";
import type { BookMessage, ServerMessage } from "../../src/protocol.js";
import { connectClient } from "../../src/relay/connect.js";
import type { RelayStats } from "../../src/relay/stats.js";
import type { ConnectionLog } from "../../tools/exchange/connlog.js";

type Env = typeof env & { EXCHANGE_HTTP: string };

/** GET /__control/book (tools/exchange/control.ts). */
interface ExchangeBook {
  seqId: number;
  ts: number;
  checksum: number;
  bids: [string, string][];
  asks: [string, string][];
}

interface Waiter {
  pred: (m: ServerMessage) => boolean;
  resolve: (m: ServerMessage) => void;
}

export class TestClient {
  readonly messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private cursor = 0;
  private waiters: Waiter[] = [];
  private closeWaiters: (() => void)[] = [];

  /**
   * @param maxKept keep at most about this many recent messages (load tests with hundreds of clients: full books
   *   x clients x seconds would exhaust the test isolate's heap); default: keep everything
   */
  constructor(
    readonly ws: WebSocket,
    private readonly maxKept = Infinity,
  ) {
    ws.addEventListener("message", (ev) => {
      const m = JSON.parse(ev.data as string) as ServerMessage;
      if (this.messages.length >= 2 * this.maxKept) {
        this.messages.splice(0, this.maxKept);
        this.cursor = Math.max(0, this.cursor - this.maxKept);
      }
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    });
    ws.addEventListener("close", (ev) => {
      this.closed = { code: ev.code, reason: ev.reason };
      for (const w of this.closeWaiters) w();
    });
  }

  /** Open `/ws/okx` (or another path) through the Worker's fetch handler. */
  static async open(path: string): Promise<TestClient> {
    const res = await SELF.fetch(`http://tradesim.test${path}`, { headers: { Upgrade: "websocket" } });
    if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
    res.webSocket.accept();
    return new TestClient(res.webSocket);
  }

  /**
   * Open a client of relay `doName` (a unique name per test keeps tests isolated) the way the Worker's /ws routes
   * connect (src/relay/connect.ts): the relay accepts it, or routes it to one of its fan-out shards (named after
   * the relay) past its shard threshold.
   */
  static async openRelay(
    doName: string,
    instId: string,
    kind: "book" | "prediction" = "book",
    depth = 25,
    maxKept = Infinity,
  ): Promise<TestClient> {
    const req = new Request("https://tradesim.test/ws", { headers: { Upgrade: "websocket" } });
    const res = await connectClient(env, doName, { instId, kind, depth }, req);
    if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status}`);
    res.webSocket.accept();
    return new TestClient(res.webSocket, maxKept);
  }

  /** The next message after the previous `next()` match that satisfies `pred`, waiting up to `timeoutMs`. */
  async next<T extends ServerMessage = ServerMessage>(
    pred: (m: ServerMessage) => boolean,
    timeoutMs = 10_000,
    label = "message",
  ): Promise<T> {
    for (let i = this.cursor; i < this.messages.length; i++) {
      if (pred(this.messages[i]!)) {
        this.cursor = i + 1;
        return this.messages[i] as T;
      }
    }
    this.cursor = this.messages.length;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${label}; got ${this.messages.length} messages, last: ${JSON.stringify(this.messages.at(-1))?.slice(0, 200)}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          this.cursor = this.messages.length;
          resolve(m as T);
        },
      };
      this.waiters.push(waiter);
    });
  }

  nextBook(timeoutMs?: number): Promise<BookMessage> {
    return this.next<BookMessage>((m) => m.type === "book", timeoutMs, "book");
  }

  books(): BookMessage[] {
    return this.messages.filter((m): m is BookMessage => m.type === "book");
  }

  send(text: string): void {
    this.ws.send(text);
  }

  waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("socket did not close")), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(this.closed!);
      });
    });
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // closed already
    }
  }
}

/** The local exchange's control API. */
export const exchange = {
  async fault(spec: {
    type: string;
    after?: number;
    scope?: "all" | "next";
    instId?: string;
    closeAfterMs?: number;
  }): Promise<number> {
    const res = await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/fault`, {
      method: "POST",
      body: JSON.stringify(spec),
    });
    return ((await res.json()) as { armed: number }).armed;
  },
  async refuse(ms: number): Promise<void> {
    await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/refuse`, { method: "POST", body: JSON.stringify({ ms }) });
  },
  async seqReset(instId: string): Promise<void> {
    await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/seq-reset?instId=${instId}`, { method: "POST" });
  },
  /** The exchange's book now, or (with `seqId`) right after that push; null when no such book was kept. */
  async book(instId: string, depth = 25, seqId?: number): Promise<ExchangeBook | null> {
    const q = seqId === undefined ? "" : `&seqId=${seqId}`;
    const res = await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/book?instId=${instId}&depth=${depth}${q}`);
    return res.status === 404 ? null : ((await res.json()) as ExchangeBook);
  },
  /** The exchange's connection log: connections with an id above `since`, subscribe counts per instId. */
  async connections(since = 0): Promise<ConnectionLog> {
    return (await (
      await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/connections?since=${since}`)
    ).json()) as ConnectionLog;
  },
  /** The id of the last connection the exchange accepted (pass to `connections` to see only later ones). */
  async lastConnectionId(): Promise<number> {
    return (await exchange.connections()).connections.at(-1)?.id ?? 0;
  },
  async recent(instId: string): Promise<{ seqId: number; checksum: number | undefined }[]> {
    return (await (await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/recent?instId=${instId}`)).json()) as never;
  },
  async state(): Promise<{
    connections: number;
    acceptedAt: number[];
    instruments: Record<string, { subscribers: number }>;
  }> {
    return (await (await fetch(`${(env as Env).EXCHANGE_HTTP}/__control/state`)).json()) as never;
  },
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The relay Durable Object's counters (what /status serves) for DO name `name`. */
export async function relayStats(name: string): Promise<RelayStats> {
  return await env.RELAY.get(env.RELAY.idFromName(name)).stats();
}

/** Poll `pred` every 20 ms; throws after `timeoutMs`, naming `what`. */
export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

let counter = 0;
/** A Durable Object name no other test uses. */
export const uniqueName = (prefix: string) => `${prefix}-${Date.now()}-${++counter}`;

/**
 * Every one of `books` equals the exchange's book at the same seqId, level for level (both sides, the message's
 * depth), and its checksum is the CRC32 of its own levels. Returns how many were compared (books whose seqId the
 * exchange no longer keeps are skipped; callers assert a minimum).
 */
export async function compareWithExchange(books: readonly BookMessage[]): Promise<number> {
  let compared = 0;
  for (const b of books) {
    expect(
      okxChecksum(
        b.bids.map(([px, sz]) => ({ px, sz })),
        b.asks.map(([px, sz]) => ({ px, sz })),
      ),
    ).toBe(b.checksum);
    if (b.seqId === null) continue;
    const ex = await exchange.book(b.instId, b.depth, b.seqId);
    if (!ex) continue;
    expect(b.bids).toEqual(ex.bids);
    expect(b.asks).toEqual(ex.asks);
    expect(b.checksum).toBe(ex.checksum);
    compared++;
  }
  return compared;
}
