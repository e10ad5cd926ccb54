/**
 * GET /status shows one entry per instrument: the relay's own stats with its fan-out shards' clients and
 * counters added in, so the figures mean the same in one-shard and sharded mode.
 */
import { summarizeLags } from "./hub.js";
import type { ShardStats } from "./shard-core.js";
import type { RelayStats } from "./stats.js";

/** The relay's stats with its shards' clients, sends and flow counters added, and client lag over all clients. */
export function mergeShardStats(relay: RelayStats, relayLags: readonly number[], shards: readonly ShardStats[]) {
  const out: RelayStats = { ...relay, clientLag: { ...relay.clientLag } };
  const lags = [...relayLags];
  let lagging = relay.clientLag.lagging;
  for (const s of shards) {
    out.clients += s.clients;
    out.bookClients += s.bookClients;
    out.predictionClients += s.predictionClients;
    out.sends += s.sends;
    out.conflated += s.conflated;
    out.budgetPaused += s.budgetPaused;
    out.stalledClosed += s.stalledClosed;
    out.staleSkipped += s.staleSkipped;
    out.lagClosed += s.lagClosed;
    out.coalesced += s.coalesced;
    for (const l of s.clientLags) lags.push(l);
    lagging += s.lagging;
  }
  out.clientLag = summarizeLags(
    lags.sort((a, b) => a - b),
    lagging,
  );
  return out;
}
