import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32, okxChecksum, okxChecksumString } from "../src/okx/checksum.js";
import { DATA } from "../tools/lib/captures.js";

interface Vector {
  name: string;
  bids: string[][];
  asks: string[][];
  expected_string?: string;
  expected_checksum_signed: number;
  claimed_checksum_signed?: number;
}

const file = JSON.parse(readFileSync(DATA.checksumVectors, "utf8")) as Record<string, unknown>;
const levels = (ls: string[][]) => ls.map((l) => ({ px: l[0]!, sz: l[1]! }));

describe("crc32", () => {
  it.each([
    ["", 0],
    ["a", -390611389], // zlib.crc32(b"a") = 0xe8b7be43
    ["123456789", -873187034], // the CRC-32 check value 0xcbf43926
  ])("crc32(%j) = %i", (s, want) => {
    expect(crc32(s)).toBe(want);
  });
});

describe("OKX checksum vectors (data/okx-checksum-vectors)", () => {
  const all = file.vectors as Vector[];
  const positive = all.filter((v) => !v.name.startsWith("NEGATIVE"));
  const negative = all.filter((v) => v.name.startsWith("NEGATIVE"));
  it("has the documented 5 positive and 1 negative vectors", () => {
    expect(positive).toHaveLength(5);
    expect(negative).toHaveLength(1);
  });
  it.each(positive.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const bids = levels(v.bids);
    const asks = levels(v.asks);
    if (v.expected_string !== undefined) expect(okxChecksumString(bids, asks)).toBe(v.expected_string);
    expect(okxChecksum(bids, asks)).toBe(v.expected_checksum_signed);
    // The streaming CRC equals the CRC of the materialised string.
    expect(okxChecksum(bids, asks)).toBe(crc32(okxChecksumString(bids, asks)));
  });

  it("negative vector: the docs' illustrative checksum does not match its own data", () => {
    const v = negative[0] as unknown as {
      bids: string[][];
      asks: string[][];
      doc_checksum: number;
      computed_checksum_signed: number;
    };
    const got = okxChecksum(levels(v.bids), levels(v.asks));
    expect(got).not.toBe(v.doc_checksum);
    expect(got).toBe(v.computed_checksum_signed);
  });

  it("uses only the top 25 levels", () => {
    const mk = (n: number, base: number, step: number) =>
      Array.from({ length: n }, (_, i) => ({ px: String(base + i * step), sz: String(i + 1) }));
    const b25 = mk(25, 100, -1);
    const a25 = mk(25, 101, 1);
    expect(okxChecksum(mk(40, 100, -1), mk(30, 101, 1))).toBe(okxChecksum(b25, a25));
    expect(okxChecksum(mk(40, 100, -1), mk(30, 101, 1))).not.toBe(okxChecksum(mk(24, 100, -1), a25));
  });
});

describe("cached-level CRC (linear shift) equals the byte-by-byte CRC of the checksum string", () => {
  const decimal = fc.oneof(
    fc.stringMatching(/^[1-9]\d{0,6}(\.\d{1,8})?$/),
    fc.stringMatching(/^0\.\d{1,12}$/),
    fc.stringMatching(/^\d{40,70}$/), // longer than the shift tables: the plain path
  );
  const lvl = fc.record({ px: decimal, sz: decimal });
  it("for random books, and again when the same level objects are reused (cache hit)", () => {
    fc.assert(
      fc.property(fc.array(lvl, { maxLength: 30 }), fc.array(lvl, { maxLength: 30 }), (bids, asks) => {
        const want = crc32(okxChecksumString(bids, asks));
        expect(okxChecksum(bids, asks)).toBe(want);
        expect(okxChecksum(bids, asks)).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});
