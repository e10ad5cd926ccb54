/**
 * A client that acks but never reads, at the TCP level, through `wrangler dev` (the real runtime and network path).
 *
 * Acks are the relay's only evidence that a client reads (workerd exposes no `bufferedAmount`; `send` never
 * blocks). A client that stops reading its socket but keeps sending acks — here the blind lie, an ack for a seq far
 * in the future — must not escape its send budget: it is closed (4008 once paused by its budget, or 1008 for acking
 * books it was never sent), workerd's memory stays bounded, and a client that reads and acks every book on the same
 * relay gets every book without a stall. (The same without acks: slowreader.e2e.test.ts.)
 *
 * Found by this test (2026-12-03): the relay used to clamp such an ack to the latest seq and restart the client's
 * budget from zero, so the liar was never paused (8 liars: workerd 312 -> 761 MiB in 40 s). Since then an ack for a
 * seq beyond the last book sent on that connection is a bad message (src/relay/hub.ts), and the liars are closed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRawWs, type RawWs } from "../../tools/lib/rawws.js";
import { openReader, relayStats, sleep } from "./reader.js";
import { STALL_TOLERANT, startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";
const LIARS = 8;
const BUDGET = 4 * 1024 * 1024;
const STALL_MS = 8_000;
const MiB = 1024 * 1024;

let stack: Stack;

beforeAll(async () => {
  // ~70 books/s of 400 levels (~16 KB each): ~1.1 MB/s per client.
  // About the send budget, asserting the reader gets every book: tolerant of a loaded machine's stalls (stack.ts).
  stack = await startStack({ speed: 4, vars: { RELAY_CLIENT_STALL_MS: String(STALL_MS), ...STALL_TOLERANT } });
});

afterAll(async () => {
  await stack?.stop();
});

describe("a client that acks but never reads (TCP level)", () => {
  it("cannot escape its send budget: closed (4008 or 1008), memory stays bounded, a reading client is unaffected", async () => {
    const wsUrl = `${stack.baseUrl.replace("http", "ws")}/ws/okx?instId=${INST}&depth=400`;
    const reader = await openReader(stack, INST);
    const liars: RawWs[] = [];
    let lying: NodeJS.Timeout | undefined;
    try {
      await reader.waitBooks(50, 30_000);
      await sleep(2_000); // let workerd's memory settle with the stream running
      const rss0 = stack.workerdRss();
      expect(rss0).toBeGreaterThan(0);
      // What the liars could affect starts now (a warm-up stall of this shared process before them may rightly
      // conflate the reader: reader.ts).
      await reader.mark();
      for (let i = 0; i < LIARS; i++) {
        const c = await openRawWs(wsUrl, () => {});
        c.pause(); // never read again: the kernel's receive window fills, then workerd's queue grows
        liars.push(c);
      }
      // ... but ack, five times a second, a seq it cannot have read.
      lying = setInterval(() => {
        for (const c of liars) c.send(JSON.stringify({ op: "ack", seq: Number.MAX_SAFE_INTEGER }));
      }, 200);
      const t0 = Date.now();
      let rssMax = rss0;
      let st = await relayStats(stack, INST);
      while (st.clients > 1 && Date.now() - t0 < 40_000) {
        await sleep(250);
        rssMax = Math.max(rssMax, stack.workerdRss());
        st = await relayStats(stack, INST);
      }
      console.log(
        `lying ackers: ${LIARS} for ${((Date.now() - t0) / 1000).toFixed(1)} s, workerd RSS ${(rss0 / MiB).toFixed(1)} -> max ${(rssMax / MiB).toFixed(1)} MiB; ` +
          `paused ${st.budgetPaused}, closed by budget ${st.stalledClosed}, clients left ${st.clients}; reader since then: ${JSON.stringify(reader.summary())}`,
      );
      // Every liar is gone (closed by its budget, or for acking what it was never sent) and workerd's memory grew by
      // at most the budgets plus allocator noise (without a defence: +450 MiB in 40 s, still growing).
      expect(st.clients).toBe(1);
      expect(rssMax - rss0).toBeLessThan(LIARS * BUDGET + 48 * MiB);
      // The reading client, from the moment the liars came (they may be gone within a second, so it reads on for
      // 150 books): every book in order, no stall behind the stuck sockets (reader.ts).
      await reader.expectUnaffected(150);
      // What the liars were finally sent: a close, 4008 (budget) or 1008 (invalid acks).
      clearInterval(lying);
      for (const c of liars) c.resume();
      for (let t = Date.now(); liars.some((c) => c.closeCode() === null); await sleep(100)) {
        if (Date.now() - t > 20_000) throw new Error(`close frames: ${liars.map((c) => c.closeCode()).join(",")}`);
      }
      for (const c of liars) expect([1008, 4008]).toContain(c.closeCode());
    } finally {
      clearInterval(lying);
      reader.close();
      for (const c of liars) c.socket.destroy();
    }
  }, 150_000);
});
