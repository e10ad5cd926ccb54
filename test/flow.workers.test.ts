/**
 * Flow control for clients that do not read. workerd has no `bufferedAmount`, so the relay bounds what it sends
 * beyond a client's last ack (RELAY_CLIENT_BUDGET_BYTES, 4 MiB by default): a client that never acks is paused
 * with an `ack_required` error, resumes with the latest book when it acks, and is closed with 4008 if it stays
 * paused for RELAY_CLIENT_STALL_MS (3 s in this suite). Acking clients on the same relay are unaffected.
 * (test/e2e/slowreader.e2e.test.ts stops reading at the TCP level through wrangler dev and watches workerd's memory.)
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { okxChecksum } from "../src/okx/checksum.js";
import type { BookMessage, ErrorMessage, ServerMessage } from "../src/protocol.js";
import { relayStats, uniqueName, until } from "./helpers/ws-client.js";

const SWAP = "BTC-USDT-SWAP";
const BUDGET = 4 * 1024 * 1024;

interface Raw {
  ws: WebSocket;
  msgs: ServerMessage[];
  /** Bytes of data messages (book/prediction/score) received since the last ack this client sent. */
  bytesSinceAck: number;
  maxBytesSinceAck: number;
  closed: { code: number; reason: string } | null;
  ack(seq: number): void;
}

/** A client that keeps every message and counts the bytes it was sent since its last ack; acks only when told. */
async function open(name: string, depth: number, autoAck: boolean): Promise<Raw> {
  const res = await env.RELAY.get(env.RELAY.idFromName(name)).fetch(
    `https://relay/connect?instId=${SWAP}&kind=book&depth=${depth}`,
    {
      headers: { Upgrade: "websocket" },
    },
  );
  const ws = res.webSocket!;
  ws.accept();
  const c: Raw = {
    ws,
    msgs: [],
    bytesSinceAck: 0,
    maxBytesSinceAck: 0,
    closed: null,
    ack(seq) {
      c.bytesSinceAck = 0;
      if (c.closed === null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "ack", seq }));
    },
  };
  ws.addEventListener("message", (ev) => {
    const text = ev.data as string;
    const m = JSON.parse(text) as ServerMessage;
    c.msgs.push(m);
    if (m.type === "book") {
      c.bytesSinceAck += text.length;
      c.maxBytesSinceAck = Math.max(c.maxBytesSinceAck, c.bytesSinceAck);
      if (autoAck) c.ack(m.seq);
    }
  });
  ws.addEventListener("close", (ev) => (c.closed = { code: ev.code, reason: ev.reason }));
  return c;
}

const books = (c: Raw) => c.msgs.filter((m): m is BookMessage => m.type === "book");
const ackRequired = (c: Raw) =>
  c.msgs.findIndex((m) => m.type === "error" && (m as ErrorMessage).code === "ack_required");

/** The top-25 checksum of a client's book message, recomputed from its levels (OKX's algorithm). */
const checksumOf = (m: BookMessage) =>
  okxChecksum(
    m.bids.map(([px, sz]) => ({ px, sz })),
    m.asks.map(([px, sz]) => ({ px, sz })),
  );

describe("flow control: clients that never ack", () => {
  it("a non-acking client is paused after its budget, resumes on ack with the latest book; an acking client is unaffected", async () => {
    const name = uniqueName("flow");
    const silent = await open(name, 400, false);
    const acker = await open(name, 400, true);
    try {
      await until(() => ackRequired(silent) >= 0, 25_000, "ack_required on the silent client");
      const err = silent.msgs[ackRequired(silent)] as ErrorMessage;
      expect(err.fatal).toBe(false);
      expect(err.message).toContain('"op":"ack"');
      // It was sent at most the budget, and nearly all of it (one 400-level book is ~16 KB).
      expect(silent.maxBytesSinceAck).toBeLessThanOrEqual(BUDGET);
      expect(silent.maxBytesSinceAck).toBeGreaterThan(BUDGET - 64 * 1024);
      const pausedAt = books(silent).length;
      const lastSeq = books(silent).at(-1)!.seq;

      // Paused: no more books while the acking client keeps getting every one.
      const ackerFrom = books(acker).at(-1)!.seq;
      await until(() => books(acker).at(-1)!.seq >= ackerFrom + 20, 15_000, "20 more books on the acking client");
      expect(books(silent).length).toBe(pausedAt);
      const ackerSeqs = books(acker).map((m) => m.seq);
      expect(ackerSeqs).toEqual(Array.from({ length: ackerSeqs.length }, (_, i) => ackerSeqs[0]! + i)); // no gaps
      expect(acker.maxBytesSinceAck).toBeLessThan(64 * 1024); // acks keep it far from the budget

      // The ack brings the latest book (conflated: everything in between is skipped). From its first ack on, the
      // client is under the in-flight window: acking that book resumes the stream.
      silent.ack(lastSeq);
      await until(() => books(silent).length > pausedAt, 5_000, "a book after the ack");
      const resumed = books(silent)[pausedAt]!;
      expect(resumed.seq).toBeGreaterThanOrEqual(ackerFrom + 20);
      expect(checksumOf(resumed)).toBe(resumed.checksum);
      silent.ack(resumed.seq);
      await until(() => books(silent).length > pausedAt + 3, 5_000, "the stream to resume");

      const st = await relayStats(name);
      expect(st.budgetPaused).toBe(1);
      expect(st.stalledClosed).toBe(0);
      expect(st.clients).toBe(2);
    } finally {
      silent.ws.close(1000, "done");
      acker.ws.close(1000, "done");
    }
  }, 60_000);

  it("a client that stays paused is closed with 4008; the relay counts it and keeps serving the others", async () => {
    const name = uniqueName("stall");
    const silent = await open(name, 400, false);
    const acker = await open(name, 25, true);
    try {
      await until(() => ackRequired(silent) >= 0, 25_000, "ack_required");
      const t0 = Date.now();
      await until(() => silent.closed !== null, 10_000, "the paused client to be closed");
      expect(silent.closed!.code).toBe(4008);
      expect(silent.closed!.reason).toMatch(/not reading/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2_000); // RELAY_CLIENT_STALL_MS = 3 s, swept once a second
      const st = await relayStats(name);
      expect(st.stalledClosed).toBe(1);
      expect(st.clients).toBe(1);
      const n = books(acker).length;
      await until(() => books(acker).length > n + 5, 5_000, "more books on the acking client");
    } finally {
      acker.ws.close(1000, "done");
    }
  }, 60_000);
});
