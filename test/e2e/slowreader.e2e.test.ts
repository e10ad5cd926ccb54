/**
 * Clients that stop reading at the TCP level, through `wrangler dev` (the real runtime and network path).
 *
 * workerd exposes no `bufferedAmount`: whatever the relay sends to a peer that does not read is queued by the
 * runtime, outside the JS heap, without limit. The relay's send budget (RELAY_CLIENT_BUDGET_BYTES, 4 MiB) caps
 * what a client that never acks is sent, and a client that stays paused is closed (4008). This test opens
 * NON_READERS raw sockets that never read, next to one client that reads and acks every book, and checks:
 * workerd's resident memory grows by less than the budgets allow (without the budget it grows by the whole
 * stream: see README "Failure behaviour"), the reader gets every book without a stall, each non-reader is paused
 * then closed, and what it is finally sent is within its budget and ends with close code 4008.
 *
 * SLOWREADER_BUDGET=<bytes> overrides the budget for a counterfactual run (e.g. 1e12: no budget; the test fails).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRawWs, type RawWs } from "../../tools/lib/rawws.js";
import { openReader, relayStats, sleep } from "./reader.js";
import { STALL_TOLERANT, startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";
const NON_READERS = 12;
const BUDGET = Number(process.env.SLOWREADER_BUDGET ?? 4 * 1024 * 1024);
const STALL_MS = 8_000;
const MiB = 1024 * 1024;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    speed: 4, // ~70 books/s of 400 levels (~16 KB each): ~1.1 MB/s per client
    vars: {
      RELAY_CLIENT_STALL_MS: String(STALL_MS),
      // This test is about the send budget and asserts the reader gets every book: a multi-second stall of a loaded
      // CI machine (the model loading beside 70 books/s) would, rightly, make the staleness bound skip a book.
      ...STALL_TOLERANT,
      ...(process.env.SLOWREADER_BUDGET && { RELAY_CLIENT_BUDGET_BYTES: process.env.SLOWREADER_BUDGET }),
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe("clients that never read (TCP level)", () => {
  it("memory stays bounded, the reading client is unaffected, non-readers are paused then closed with 4008", async () => {
    const wsUrl = stack.baseUrl.replace("http", "ws") + `/ws/okx?instId=${INST}&depth=400`;
    const reader = await openReader(stack, INST);
    const silent: RawWs[] = [];
    try {
      await reader.waitBooks(50, 30_000);
      await sleep(2_000); // let workerd's memory settle with the stream running
      const rss0 = stack.workerdRss();
      expect(rss0).toBeGreaterThan(0);
      // What the non-readers could affect starts now (a warm-up stall of this shared process before them may
      // rightly conflate the reader: reader.ts).
      await reader.mark();

      for (let i = 0; i < NON_READERS; i++) {
        const c = await openRawWs(wsUrl, () => {});
        c.pause(); // never read again: the kernel's receive window fills, then workerd's writes back up
        silent.push(c);
      }
      const t0 = Date.now();
      let rssMax = rss0;
      let st = await relayStats(stack, INST);
      // Until every non-reader was paused and then closed, sampling workerd's memory all along.
      while (st.stalledClosed < NON_READERS && Date.now() - t0 < 40_000) {
        await sleep(250);
        rssMax = Math.max(rssMax, stack.workerdRss());
        st = await relayStats(stack, INST);
      }
      const elapsed = (Date.now() - t0) / 1000;
      console.log(
        `slow readers: ${NON_READERS} non-readers for ${elapsed.toFixed(1)} s, workerd RSS ${(rss0 / MiB).toFixed(1)} -> max ${(rssMax / MiB).toFixed(1)} MiB ` +
          `(+${((rssMax - rss0) / MiB).toFixed(1)} MiB; budgets allow ${((NON_READERS * BUDGET) / MiB).toFixed(0)} MiB); reader since then: ${JSON.stringify(reader.summary())}`,
      );
      expect(st.budgetPaused).toBeGreaterThanOrEqual(NON_READERS);
      expect(st.stalledClosed).toBe(NON_READERS);
      expect(st.clients).toBe(1);
      // Bounded: at most every budget queued in workerd (much of it sits in kernel socket buffers instead), plus
      // 48 MiB of allocator noise. Without a budget the growth is the whole stream times NON_READERS.
      expect(rssMax - rss0).toBeLessThan(NON_READERS * BUDGET + 48 * MiB);

      // The reading client, from the moment the non-readers came: every book in order, no stall behind the stuck
      // sockets (reader.ts).
      await reader.expectUnaffected(100);

      // Read what the stuck sockets were sent: within the budget, then the 4008 close.
      for (const c of silent) c.resume();
      for (let t = Date.now(); silent.some((c) => c.closeCode() === null); await sleep(100)) {
        if (Date.now() - t > 20_000) throw new Error(`close frames: ${silent.map((c) => c.closeCode()).join(",")}`);
      }
      for (const c of silent) {
        expect(c.closeCode()).toBe(4008);
        expect(c.received()).toBeLessThanOrEqual(BUDGET + 1024); // + the status and ack_required messages
        expect(c.received()).toBeGreaterThan(BUDGET - 64 * 1024);
      }
    } finally {
      reader.close();
      for (const c of silent) c.socket.destroy();
    }
  }, 150_000);
});
