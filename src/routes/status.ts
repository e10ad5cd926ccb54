/**
 * `GET /health` (liveness) and `GET /status` (per-instrument relay state and counters), declared with OpenAPI
 * routes so /openapi.json (src/routes/docs.ts) documents them from the same zod schemas; the workerd test checks
 * real /status answers against `StatusResponseSchema`.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "../env.js";
import { apiError } from "../errors.js";
import { INST_ID_RE } from "../okx/protocol.js";
import { mergeShardStats } from "../relay/aggregate.js";
import { shardName } from "../relay/shards.js";
import type { RelayStats } from "../relay/stats.js";
import { ErrorSchema } from "../sim/schema.js";
import { parseInstId } from "./params.js";

/** Most instruments one /status call reports. */
const MAX_STATUS_INSTRUMENTS = 100;

const count = (description: string) => z.number().int().min(0).openapi({ description });
const msOrNull = (description: string) => z.number().nullable().openapi({ description });

const RelayStatsSchema = z
  .object({
    instId: z.string().nullable().openapi({ description: "Instrument (null before the relay's first client)." }),
    state: z
      .enum(["connecting", "live", "resyncing", "down", "idle"])
      .openapi({ description: "Upstream state as clients see it; `idle` when no upstream is wanted." }),
    stateReason: z
      .string()
      .nullable()
      .openapi({ description: "Why the state last changed (e.g. `checksum`, `closed 1006`)." }),
    clients: count("Connected client sockets (book + prediction)."),
    bookClients: count("Clients on /ws/okx."),
    predictionClients: count("Clients on /ws/prediction."),
    upstreamMessages: count("Frames received from OKX."),
    bookMessages: count("OKX `books` pushes applied."),
    tradeMessages: count("OKX `trades` pushes received (they feed the forecast features, never the book)."),
    badTrades: count("Trades the features could not use (malformed items or pushes)."),
    broadcasts: count("Book changes fanned out."),
    sends: count("Frames sent to clients (the relay's own clients and its shards' clients)."),
    linkSends: count("Frames the relay sent to its fan-out shards (one per shard per message)."),
    conflated: count("Times a client that fell behind its ack window was conflated to the latest book."),
    budgetPaused: count("Clients paused because their send budget ran out without an ack."),
    stalledClosed: count("Clients closed with 4008 after staying paused."),
    staleSkipped: count(
      "Books withheld from clients beyond the staleness bound (each episode once; the client gets `lagging`).",
    ),
    lagClosed: count("Clients closed with 4009 after staying beyond the staleness bound."),
    relayLagMs: z.number().openapi({
      description: "Relay lag behind the exchange at the last book change, ms (beyond the clocks' offset).",
    }),
    coalesceIntervalMs: z.number().openapi({
      description:
        "Interval between book broadcasts now in force, ms: 0 while every change is broadcast; while behind, it starts at RELAY_COALESCE_INTERVAL_MS and doubles up to RELAY_COALESCE_MAX_INTERVAL_MS.",
    }),
    coalesced: count("Book changes applied but not broadcast on their own because the relay was behind."),
    clientLag: z
      .object({
        measured: count("Acking book clients measured."),
        p50Ms: msOrNull("Median age of the oldest unacknowledged book per client, ms."),
        p99Ms: msOrNull("99th percentile of the same, ms."),
        maxMs: msOrNull("Largest of the same, ms."),
        lagging: count("Clients beyond the staleness bound now."),
      })
      .openapi({ description: "Lag of acking book clients (age of the oldest book each has not acknowledged)." }),
    resyncs: count("Resyncs (unsubscribe + subscribe on the same socket)."),
    reconnects: count("Upstream reconnects."),
    connectFailures: count("Upstream connection attempts that failed."),
    faults: z
      .object({
        "no-snapshot": count("Updates before the first snapshot."),
        gap: count("seqId gaps."),
        checksum: count("CRC32 mismatches."),
        crossed: count("Crossed books."),
        malformed: count("Malformed frames or levels."),
        notice: count("OKX `notice` events (e.g. 64008 service upgrade)."),
        stall: count("Upstream stalls (no data, no pong)."),
        "upstream-error": count("OKX `error` events."),
        "subscribe-timeout": count("Subscriptions without a snapshot in time."),
      })
      .openapi({ description: "Faults by cause." }),
    predictions: count("Forecasts sent on /ws/prediction."),
    scores: count("Score messages sent on /ws/prediction."),
    model: z
      .string()
      .nullable()
      .openapi({ description: "Model serving forecasts (`name@version`), null before the first book." }),
    seqId: z.number().int().nullable().openapi({ description: "OKX seqId of the last applied message." }),
    ts: z.number().openapi({ description: "Exchange time of the last applied message, Unix ms (0 before the first)." }),
    bookLevels: z.object({ bids: count("Bid levels held."), asks: count("Ask levels held.") }),
    lastUpstreamAt: msOrNull("Relay clock of the last upstream frame, Unix ms."),
    liveSince: msOrNull("Relay clock when the book last became live, Unix ms."),
    shards: z
      .array(
        z.object({
          shard: count("Shard index."),
          clients: count("Client sockets on this shard."),
          depths: z.array(z.number().int()).openapi({ description: "Book depths its clients subscribed." }),
          prediction: z.boolean().openapi({ description: "Whether it has prediction clients." }),
        }),
      )
      .openapi({
        description:
          "Fan-out shards linked to the relay (empty in one-shard mode). Client counts and counters above include them.",
      }),
  })
  .openapi("RelayStats", {
    description: "One instrument relay (Durable Object): upstream state and counters since it started.",
  });

/** True when A and B are the same type. */
type Exact<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compile-time check: the schema documents exactly RelayStats (a new relay counter fails the typecheck here). */
const _relayStatsDocumented: Exact<z.infer<typeof RelayStatsSchema>, RelayStats> = true;

export const StatusResponseSchema = z
  .object({
    upstream: z.string().openapi({
      description: "The OKX WebSocket URL the relays connect to.",
      example: "wss://ws.okx.com:8443/ws/v5/public",
    }),
    instruments: z.array(RelayStatsSchema),
  })
  .openapi("StatusResponse");

export const HealthResponseSchema = z
  .object({
    ok: z.literal(true),
    service: z.literal("tradesim"),
    time: z.string().openapi({ description: "Server time, ISO 8601.", example: "2026-12-03T08:00:00.000Z" }),
  })
  .openapi("HealthResponse");

const StatusQuerySchema = z.object({
  instId: z
    .string()
    .optional()
    .openapi({
      description: `Comma-separated instrument ids (at most ${MAX_STATUS_INSTRUMENTS}); default: every active relay. Each must match ${INST_ID_RE.source} and the server's allow-list.`,
      example: "BTC-USDT-SWAP,ETH-USDT-SWAP",
    }),
});

const json = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["Service"],
  summary: "Liveness",
  description: "Answers while the Worker runs; touches no Durable Object.",
  responses: { 200: json("The Worker is up.", HealthResponseSchema) },
});

const statusRoute = createRoute({
  method: "get",
  path: "/status",
  operationId: "getStatus",
  tags: ["Service"],
  summary: "Relay state and counters per instrument",
  description:
    "Every active instrument relay (or the ones named in `instId`) with its upstream state, client counts, message counters, resyncs, reconnects, faults by cause and client flow counters.",
  request: { query: StatusQuerySchema },
  responses: {
    200: json("Relay stats.", StatusResponseSchema),
    400: json("An instId is not an OKX instrument id or not served here.", ErrorSchema),
  },
});

export const statusRoutes = new OpenAPIHono<{ Bindings: Env }>({
  defaultHook: (result) => {
    if (!result.success) apiError(400, "invalid_request", result.error.issues[0]?.message ?? "invalid query");
  },
});

statusRoutes.openapi(healthRoute, (c) =>
  c.json({ ok: true as const, service: "tradesim" as const, time: new Date().toISOString() }, 200),
);

/** Stats of one instrument: its relay's, with its fan-out shards' clients and counters merged in. */
async function relayStats(env: Env, instId: string): Promise<RelayStats> {
  const relay = env.RELAY.get(env.RELAY.idFromName(instId));
  const s = await relay.stats();
  if (s.shards.length === 0) return s;
  const [lags, shards] = await Promise.all([
    relay.clientLags(),
    Promise.all(s.shards.map((sh) => env.SHARD.get(env.SHARD.idFromName(shardName(instId, sh.shard))).stats())),
  ]);
  return mergeShardStats(s, lags, shards);
}

statusRoutes.openapi(statusRoute, async (c) => {
  const q = c.req.valid("query").instId;
  let ids: string[];
  if (q !== undefined) {
    ids = q.split(",").map((s) => parseInstId(s.trim(), c.env.ALLOWED_INSTRUMENTS));
  } else {
    const dir = c.env.DIRECTORY.get(c.env.DIRECTORY.idFromName("global"));
    ids = (await dir.list()).map((e) => e.instId);
  }
  const instruments = await Promise.all(ids.slice(0, MAX_STATUS_INSTRUMENTS).map((id) => relayStats(c.env, id)));
  return c.json({ upstream: c.env.OKX_WS_URL, instruments }, 200);
});
