import { describe, expect, it } from "vitest";
import { checkUpdateSequence } from "../src/okx/continuity.js";

describe("checkUpdateSequence (OKX seqId/prevSeqId rules)", () => {
  it.each([
    ["continuous update", 10, 11, 10, false, { kind: "ok" }],
    ["heartbeat: seqId == prevSeqId, empty", 10, 10, 10, true, { kind: "heartbeat" }],
    ["same ids with levels is still an update", 10, 10, 10, false, { kind: "ok" }],
    ["maintenance reset: seqId < prevSeqId", 10, 3, 10, false, { kind: "reset" }],
    ["gap: prevSeqId ahead", 10, 13, 12, false, { kind: "gap", expectedPrevSeqId: 10, prevSeqId: 12 }],
    ["gap: prevSeqId behind (duplicate)", 10, 10, 9, false, { kind: "gap", expectedPrevSeqId: 10, prevSeqId: 9 }],
    ["pre-2023 capture: no ids at all", null, undefined, undefined, false, { kind: "unsequenced" }],
    ["chain starts after an unsequenced snapshot", null, 5, 4, false, { kind: "ok" }],
    [
      "sequenced chain loses its ids",
      10,
      undefined,
      undefined,
      false,
      { kind: "gap", expectedPrevSeqId: 10, prevSeqId: -1 },
    ],
  ] as const)("%s", (_n, last, seqId, prevSeqId, empty, want) => {
    expect(checkUpdateSequence(last, seqId, prevSeqId, empty)).toEqual(want);
  });
});
