/** Relay counters and state, served on GET /status (through the `stats()` RPC). */
import type { BookFault } from "../okx/book.js";
import type { UpstreamState } from "../protocol.js";
import type { ShardInfo } from "./shards.js";

/** Faults the relay counts, by cause. */
export type RelayFault = BookFault | "notice" | "stall" | "upstream-error" | "subscribe-timeout";

export interface RelayStats {
  instId: string | null;
  /** Upstream state as clients see it, or `idle` when no upstream is wanted. */
  state: UpstreamState | "idle";
  stateReason: string | null;
  clients: number;
  bookClients: number;
  predictionClients: number;
  upstreamMessages: number;
  bookMessages: number;
  /** `trades` pushes received (they feed the prediction features, never the book). */
  tradeMessages: number;
  /** Trades the features could not use (malformed items or pushes). */
  badTrades: number;
  broadcasts: number;
  /** Frames sent to clients (by this object; GET /status adds the shards' sends). */
  sends: number;
  /** Frames sent to fan-out shards over their links. */
  linkSends: number;
  conflated: number;
  /** Clients paused because their send budget ran out without an ack (each pause counted once). */
  budgetPaused: number;
  /** Clients closed with 4008 after staying paused for clientStallMs. */
  stalledClosed: number;
  /** Books withheld from clients beyond the staleness bound (each episode counted once; the client is told). */
  staleSkipped: number;
  /** Clients closed with 4009 after staying beyond the staleness bound for lagCloseMs. */
  lagClosed: number;
  /** Relay lag behind the exchange at the last book change, ms (beyond the clocks' offset). */
  relayLagMs: number;
  /** Interval between book broadcasts now in force while coalescing, ms; 0 while every change is broadcast. */
  coalesceIntervalMs: number;
  /** Book changes applied but not broadcast on their own because the relay was behind (coalesced). */
  coalesced: number;
  /** Lag of acking book clients (age of the oldest book each has not acknowledged), and how many are lagging. */
  clientLag: { measured: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; lagging: number };
  resyncs: number;
  reconnects: number;
  connectFailures: number;
  faults: Record<RelayFault, number>;
  /** Forecasts and score messages sent on /ws/prediction. */
  predictions: number;
  scores: number;
  /** Model serving forecasts (`name@version`), null before the first book. */
  model: string | null;
  seqId: number | null;
  ts: number;
  bookLevels: { bids: number; asks: number };
  lastUpstreamAt: number | null;
  liveSince: number | null;
  /** Fan-out shards linked to this relay, as they last reported (empty in one-shard mode). */
  shards: ShardInfo[];
}

/** Zeroed counters. */
export function createStats(): RelayStats {
  return {
    instId: null,
    state: "idle",
    stateReason: null,
    clients: 0,
    bookClients: 0,
    predictionClients: 0,
    upstreamMessages: 0,
    bookMessages: 0,
    tradeMessages: 0,
    badTrades: 0,
    broadcasts: 0,
    sends: 0,
    linkSends: 0,
    conflated: 0,
    budgetPaused: 0,
    stalledClosed: 0,
    staleSkipped: 0,
    lagClosed: 0,
    relayLagMs: 0,
    coalesceIntervalMs: 0,
    coalesced: 0,
    clientLag: { measured: 0, p50Ms: null, p99Ms: null, maxMs: null, lagging: 0 },
    resyncs: 0,
    reconnects: 0,
    connectFailures: 0,
    faults: {
      "no-snapshot": 0,
      gap: 0,
      checksum: 0,
      crossed: 0,
      malformed: 0,
      notice: 0,
      stall: 0,
      "upstream-error": 0,
      "subscribe-timeout": 0,
    },
    predictions: 0,
    scores: 0,
    model: null,
    seqId: null,
    ts: 0,
    bookLevels: { bids: 0, asks: 0 },
    lastUpstreamAt: null,
    liveSince: null,
    shards: [],
  };
}
