import { describe, expect, it } from "vitest";
import {
  applyBook,
  bookChecksum,
  createBook,
  mid,
  spread,
  topLevels,
  toOkxLevels,
  type Book,
} from "../src/okx/book.js";
import { okxChecksum } from "../src/okx/checksum.js";
import { parseOkxMessage, type OkxBookData, type OkxLevel } from "../src/okx/protocol.js";
import { DATA, receivedMessages } from "../tools/lib/captures.js";

/** Replay every books push of a capture through one book per instrument; count checksum-verified messages. */
function replay(path: string, maxLevels?: number) {
  const books = new Map<string, Book>();
  let messages = 0;
  let verified = 0;
  let crossed = 0;
  const faults: string[] = [];
  for (const { json } of receivedMessages(path)) {
    const m = parseOkxMessage(json);
    if (m.kind !== "books") continue;
    messages++;
    let book = books.get(m.arg.instId);
    if (!book) {
      book = createBook(m.arg.instId);
      books.set(m.arg.instId, book);
    }
    const r = applyBook(book, m.action, m.data, { maxLevels });
    if (!r.ok) {
      faults.push(`${m.arg.instId} ${r.fault} ${r.detail}`);
      continue;
    }
    // Independent check: our own checksum of the resulting book equals what OKX recorded.
    if (m.data.checksum !== undefined && m.data.checksum !== 0 && okxChecksum(book.bids, book.asks) === m.data.checksum)
      verified++;
    if (book.bids[0] && book.asks[0] && book.bids[0].price >= book.asks[0].price) crossed++;
  }
  return { books, messages, verified, crossed, faults };
}

describe("book engine on real captures: every message passes OKX's checksum", () => {
  it.each([
    ["cryptofeed OKX 2022-02-27 (books-l2-tbt, 10 instruments)", DATA.okx20220227, 3679],
    ["cryptofeed OKEx 2021-07-22 ws.1 (books-l2-tbt)", DATA.okex20210722, 1504],
    ["cryptofeed OKX 2022-05-13 (books, spot + inverse future + inverse swap)", DATA.okx20220513, 290],
    ["Binance USD-M BTCUSDT 2024-08-08 as OKX BTC-USDT-SWAP (seqId chain)", DATA.btcSwap, 6548],
  ])("%s", (_name, path, expected) => {
    const r = replay(path);
    expect(r.faults).toEqual([]);
    expect(r.messages).toBe(expected);
    expect(r.verified).toBe(expected);
    expect(r.crossed).toBe(0);
  });

  it("keeps sides sorted and strictly monotone after thousands of updates (400-level books)", () => {
    const { books } = replay(DATA.okx20220227);
    for (const b of books.values()) {
      for (let i = 1; i < b.bids.length; i++) expect(b.bids[i - 1]!.price).toBeGreaterThan(b.bids[i]!.price);
      for (let i = 1; i < b.asks.length; i++) expect(b.asks[i - 1]!.price).toBeLessThan(b.asks[i]!.price);
      expect(b.bids.every((l) => l.size > 0) && b.asks.every((l) => l.size > 0)).toBe(true);
    }
    expect(books.get("ELON-USDT")!.bids.length).toBeGreaterThan(200);
  });

  it("maxLevels caps each side without changing the top of the book or any checksum; too tight a cap loses levels", () => {
    const full = replay(DATA.btcSwap);
    const capped = replay(DATA.btcSwap, 800);
    expect(capped.faults).toEqual([]);
    expect(capped.verified).toBe(6548);
    const f = full.books.get("BTC-USDT-SWAP")!;
    const c = capped.books.get("BTC-USDT-SWAP")!;
    expect(f.bids.length + f.asks.length).toBeGreaterThan(1600); // the uncapped book accumulates tail levels
    expect(Math.max(c.bids.length, c.asks.length)).toBe(800);
    expect(topLevels(c.bids, 400)).toEqual(topLevels(f.bids, 400));
    expect(topLevels(c.asks, 400)).toEqual(topLevels(f.asks, 400));
    // Levels beyond 400 do come back to the top in this stream: capping at 400 breaks the checksum.
    expect(replay(DATA.btcSwap, 400).faults.some((f) => f.includes("checksum"))).toBe(true);
  });
});

const L = (px: string, sz: string): OkxLevel => [px, sz, "0", "1"];
const snap = (bids: OkxLevel[], asks: OkxLevel[], extra: Partial<OkxBookData> = {}): OkxBookData => ({
  bids,
  asks,
  ts: "1700000000000",
  ...extra,
});

describe("applyBook semantics", () => {
  const base = () => {
    const b = createBook("BTC-USDT");
    applyBook(
      b,
      "snapshot",
      snap([L("100", "1"), L("99.5", "2"), L("99", "3")], [L("100.5", "1"), L("101", "2")], {
        seqId: 10,
        prevSeqId: -1,
      }),
    );
    return b;
  };

  it("snapshot: sorted sides, mid, spread, top-N with original strings", () => {
    const b = base();
    expect(b.synced).toBe(true);
    expect(mid(b)).toBe(100.25);
    expect(spread(b)).toBe(0.5);
    expect(topLevels(b.bids, 2)).toEqual([
      ["100", "1"],
      ["99.5", "2"],
    ]);
    expect(topLevels(b.asks, 5)).toEqual([
      ["100.5", "1"],
      ["101", "2"],
    ]);
    expect(b.seqId).toBe(10);
  });

  it("snapshot given out of order is sorted", () => {
    const b = createBook("X-Y");
    const r = applyBook(b, "snapshot", snap([L("99", "1"), L("100", "2")], [L("102", "1"), L("101", "1")]));
    expect(r.ok).toBe(true);
    expect(b.bids.map((l) => l.px)).toEqual(["100", "99"]);
    expect(b.asks.map((l) => l.px)).toEqual(["101", "102"]);
  });

  it.each([
    ["insert inside", { bids: [L("99.75", "4")] }, ["100", "99.75", "99.5", "99"], ["100.5", "101"]],
    ["insert new best ask", { asks: [L("100.25", "1")] }, ["100", "99.5", "99"], ["100.25", "100.5", "101"]],
    ["replace size keeps position", { bids: [L("99.5", "7")] }, ["100", "99.5", "99"], ["100.5", "101"]],
    ["size 0 deletes", { bids: [L("100", "0")] }, ["99.5", "99"], ["100.5", "101"]],
    ["deleting an absent level is a no-op", { asks: [L("150", "0")] }, ["100", "99.5", "99"], ["100.5", "101"]],
    ["append worst", { asks: [L("105", "1")] }, ["100", "99.5", "99"], ["100.5", "101", "105"]],
  ] as [string, { bids?: OkxLevel[]; asks?: OkxLevel[] }, string[], string[]][])(
    "update: %s",
    (_n, upd, bids, asks) => {
      const b = base();
      const r = applyBook(b, "update", snap(upd.bids ?? [], upd.asks ?? [], { seqId: 11, prevSeqId: 10 }));
      expect(r).toEqual({ ok: true, changed: true });
      expect(b.bids.map((l) => l.px)).toEqual(bids);
      expect(b.asks.map((l) => l.px)).toEqual(asks);
      expect(b.seqId).toBe(11);
    },
  );

  it("keeps the latest original strings (e.g. trailing zeros) for the checksum", () => {
    const b = base();
    applyBook(b, "update", snap([L("99.5", "2.50")], [], { seqId: 11, prevSeqId: 10 }));
    expect(b.bids[1]).toMatchObject({ px: "99.5", sz: "2.50", size: 2.5 });
  });

  it.each([
    [
      "update before snapshot",
      (_b: Book) => applyBook(createBook("A-B"), "update", snap([L("1", "1")], [])),
      "no-snapshot",
    ],
    [
      "sequence gap",
      (b: Book) => applyBook(b, "update", snap([L("99", "1")], [], { seqId: 13, prevSeqId: 12 })),
      "gap",
    ],
    [
      "crossed book",
      (b: Book) => applyBook(b, "update", snap([L("100.5", "1")], [], { seqId: 11, prevSeqId: 10 })),
      "crossed",
    ],
    [
      "checksum mismatch",
      (b: Book) => applyBook(b, "update", snap([L("99", "4")], [], { seqId: 11, prevSeqId: 10, checksum: 12345 })),
      "checksum",
    ],
    [
      "NaN price",
      (b: Book) => applyBook(b, "update", snap([L("abc", "1")], [], { seqId: 11, prevSeqId: 10 })),
      "malformed",
    ],
    [
      "negative size",
      (b: Book) => applyBook(b, "update", snap([L("99", "-1")], [], { seqId: 11, prevSeqId: 10 })),
      "malformed",
    ],
    [
      "zero price",
      (b: Book) => applyBook(b, "update", snap([L("0", "1")], [], { seqId: 11, prevSeqId: 10 })),
      "malformed",
    ],
    [
      "empty size string",
      (b: Book) => applyBook(b, "update", snap([L("99", "")], [], { seqId: 11, prevSeqId: 10 })),
      "malformed",
    ],
    [
      "numeric (not string) level",
      (b: Book) => applyBook(b, "update", snap([[99 as unknown as string, "1"]], [], { seqId: 11, prevSeqId: 10 })),
      "malformed",
    ],
    [
      "level not an array",
      (b: Book) => applyBook(b, "update", snap(["99:1" as unknown as OkxLevel], [], { seqId: 11, prevSeqId: 10 })),
      "malformed",
    ],
    [
      "duplicate price in snapshot",
      () => applyBook(createBook("A-B"), "snapshot", snap([L("1", "1"), L("1", "2")], [])),
      "malformed",
    ],
    ["sequenced chain loses its seqId", (b: Book) => applyBook(b, "update", snap([L("99", "1")], [])), "gap"],
  ])("fault: %s -> %s, book invalidated", (_n, act, fault) => {
    const b = base();
    const r = act(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.fault).toBe(fault);
  });

  it("a fault clears the book and requires a new snapshot", () => {
    const b = base();
    applyBook(b, "update", snap([L("99", "1")], [], { seqId: 13, prevSeqId: 12 }));
    expect(b.synced).toBe(false);
    expect(b.bids).toEqual([]);
    const r = applyBook(b, "update", snap([L("99", "1")], [], { seqId: 14, prevSeqId: 13 }));
    expect(r.ok === false && r.fault).toBe("no-snapshot");
  });

  it("heartbeat (seqId == prevSeqId, no levels) changes nothing", () => {
    const b = base();
    const r = applyBook(b, "update", snap([], [], { seqId: 10, prevSeqId: 10, ts: "1700000001000" }));
    expect(r).toEqual({ ok: true, changed: false });
    expect(b.ts).toBe(1700000001000);
    expect(b.bids).toHaveLength(3);
  });

  it("maintenance reset (seqId < prevSeqId) is accepted and continues from the new seqId", () => {
    const b = base();
    expect(applyBook(b, "update", snap([L("98", "1")], [], { seqId: 3, prevSeqId: 10 }))).toEqual({
      ok: true,
      changed: true,
      reset: true,
    });
    expect(applyBook(b, "update", snap([L("97", "1")], [], { seqId: 4, prevSeqId: 3 })).ok).toBe(true);
  });

  it("checksum 0 (deprecated since 2026-06-23) is skipped; a correct non-zero one passes", () => {
    const b = base();
    expect(applyBook(b, "update", snap([L("99", "4")], [], { seqId: 11, prevSeqId: 10, checksum: 0 })).ok).toBe(true);
    const expected = okxChecksum(
      [
        { px: "100", sz: "1" },
        { px: "99.5", sz: "2" },
        { px: "99", sz: "5" },
      ],
      b.asks,
    );
    expect(applyBook(b, "update", snap([L("99", "5")], [], { seqId: 12, prevSeqId: 11, checksum: expected })).ok).toBe(
      true,
    );
  });

  it("bookChecksum's cache equals a full recomputation after every message of a real capture", () => {
    const books = new Map<string, Book>();
    let n = 0;
    for (const { json } of receivedMessages(DATA.okx20220227)) {
      const m = parseOkxMessage(json);
      if (m.kind !== "books") continue;
      let b = books.get(m.arg.instId);
      if (!b) {
        b = createBook(m.arg.instId);
        books.set(m.arg.instId, b);
      }
      applyBook(b, m.action, m.data, { verifyChecksum: n % 3 === 0 }); // leave the cache stale sometimes
      expect(bookChecksum(b)).toBe(okxChecksum(b.bids, b.asks));
      n++;
    }
    expect(n).toBe(3679);
  });

  it("toOkxLevels round-trips a book into an equal snapshot", () => {
    const b = base();
    const c = createBook("BTC-USDT");
    applyBook(c, "snapshot", snap(toOkxLevels(b.bids), toOkxLevels(b.asks)));
    expect(okxChecksum(c.bids, c.asks)).toBe(okxChecksum(b.bids, b.asks));
  });
});
