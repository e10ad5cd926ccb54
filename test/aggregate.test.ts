/** GET /status's per-instrument entry with fan-out shards merged in (src/relay/aggregate.ts). */
import { describe, expect, it } from "vitest";
import { mergeShardStats } from "../src/relay/aggregate.js";
import { createHubCounters } from "../src/relay/hub.js";
import type { ShardStats } from "../src/relay/shard-core.js";
import { createStats } from "../src/relay/stats.js";

function shard(over: Partial<ShardStats>): ShardStats {
  return {
    ...createHubCounters(),
    instId: "X",
    shard: 0,
    link: "linked",
    clients: 0,
    bookClients: 0,
    predictionClients: 0,
    linkBooks: 0,
    broadcasts: 0,
    coalesced: 0,
    links: 1,
    badLinkFrames: 0,
    lagMs: 0,
    coalesceIntervalMs: 0,
    clientLags: [],
    lagging: 0,
    ...over,
  };
}

describe("mergeShardStats", () => {
  it("adds the shards' clients and counters and takes client lag percentiles over every client", () => {
    const relay = {
      ...createStats(),
      clients: 2,
      bookClients: 2,
      sends: 100,
      conflated: 1,
      linkSends: 40,
      clientLag: { measured: 2, p50Ms: 10, p99Ms: 20, maxMs: 20, lagging: 0 },
    };
    const out = mergeShardStats(
      relay,
      [10, 20],
      [
        shard({ clients: 3, bookClients: 2, predictionClients: 1, sends: 50, staleSkipped: 2, clientLags: [5, 3000] }),
        shard({ shard: 1, clients: 1, bookClients: 1, sends: 7, conflated: 4, clientLags: [30], lagging: 1 }),
      ],
    );
    expect([out.clients, out.bookClients, out.predictionClients]).toEqual([6, 5, 1]);
    expect([out.sends, out.conflated, out.staleSkipped, out.linkSends]).toEqual([157, 5, 2, 40]);
    // lags 5, 10, 20, 30, 3000: nearest-rank p50 = 20, p99 = max = 3000
    expect(out.clientLag).toEqual({ measured: 5, p50Ms: 20, p99Ms: 3000, maxMs: 3000, lagging: 1 });
    expect(relay.clients).toBe(2); // the input is not modified
  });
});
