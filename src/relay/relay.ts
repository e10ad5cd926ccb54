/**
 * InstrumentRelay: one Durable Object per instrument (named by instId). This class only wires the runtime's entry
 * points (fetch, webSocketMessage/Close/Error, alarm, RPC) to the relay core (src/relay/core.ts), which holds the
 * upstream session, the book, the clients and their flow control as plain, Node-tested TypeScript.
 *
 * Runtime facts:
 * - Client sockets are accepted with the Hibernation API (`ctx.acceptWebSocket`): what survives eviction is in
 *   each socket's attachment, and the constructor rebuilds the client table from `ctx.getWebSockets()`.
 * - `ping` is answered `pong` by the runtime without waking the object (`setWebSocketAutoResponse`).
 * - Every entry point runs through `guard`: a failure is logged with the entry point's name and never escapes.
 */
import { DurableObject } from "cloudflare:workers";
import { fallbackMultiModel, loadBundledMultiModel } from "../predict/bundled-v2.js";
import { DEFAULT_DEPTH } from "../protocol.js";
import type { BookHistorySnapshot } from "../sim/history.js";
import type { ClientKind } from "./clients.js";
import { relayConfig } from "./config.js";
import { RelayCore, type LiveBook } from "./core.js";
import { guard } from "./guard.js";
import { shardRedirect } from "./shards.js";
import type { RelayStats } from "./stats.js";
import { connectWebSocket } from "./upstream.js";

/** Tag of shard link sockets (the runtime keeps tags across hibernation). */
const LINK_TAG = "link";

export class InstrumentRelay extends DurableObject<Env> {
  private readonly core: RelayCore<WebSocket>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const dir = env.DIRECTORY.get(env.DIRECTORY.idFromName("global"));
    this.core = new RelayCore<WebSocket>(relayConfig(env), {
      now: Date.now,
      connect: connectWebSocket,
      reserveConnectSlot: () => dir.reserveConnectSlot(),
      report: (r) => ctx.waitUntil(dir.report(r).catch((e: unknown) => console.warn("relay.report", String(e)))),
      setAlarm: (at) => ctx.storage.setAlarm(at),
      predictors: { fallback: () => fallbackMultiModel(), load: loadBundledMultiModel },
      log: console,
      defer: (ms, fn) => void setTimeout(fn, ms),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    this.core.restore(ctx.getWebSockets(), ctx.getWebSockets(LINK_TAG));
  }

  /**
   * Upgrade from the Worker (`/connect?instId&kind&depth`, validated by src/routes/ws.ts): accepted here, or
   * answered with a shard redirect the Worker follows. `/link?instId&shard`: a fan-out shard's link.
   */
  override async fetch(request: Request): Promise<Response> {
    return guard(
      console,
      "relay.fetch",
      this.core.label,
      () => {
        const url = new URL(request.url);
        const instId = url.searchParams.get("instId") ?? "";
        if (url.pathname === "/link") return this.acceptLink(instId, Number(url.searchParams.get("shard")));
        if (url.pathname !== "/connect") return new Response("not found", { status: 404 });
        const route = this.core.route(instId);
        if (route.to === "shard") return shardRedirect(route.shard, route.token);
        const kind: ClientKind = url.searchParams.get("kind") === "prediction" ? "prediction" : "book";
        const depth = Number(url.searchParams.get("depth")) || DEFAULT_DEPTH;
        const pair = new WebSocketPair();
        const server = pair[1];
        const a = this.core.newAttachment(instId, kind, depth);
        this.ctx.acceptWebSocket(server);
        server.serializeAttachment(a);
        this.core.onOpen(server, a);
        return new Response(null, { status: 101, webSocket: pair[0] });
      },
      new Response("relay error", { status: 500 }),
    );
  }

  private acceptLink(instId: string, shard: number): Response {
    if (!Number.isSafeInteger(shard) || shard < 0) return new Response("bad shard", { status: 400 });
    const pair = new WebSocketPair();
    const server = pair[1];
    const a = this.core.newLinkAttachment(instId, shard);
    this.ctx.acceptWebSocket(server, [LINK_TAG]);
    server.serializeAttachment(a);
    this.core.onLinkOpen(server, a);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    guard(console, "relay.webSocketMessage", this.core.label, () => this.core.onMessage(ws, message));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    guard(console, "relay.webSocketClose", this.core.label, () => {
      this.core.onClose(ws);
      try {
        ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
      } catch {
        // already closed
      }
    });
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    guard(console, "relay.webSocketError", this.core.label, () => {
      console.warn("relay.webSocketError", this.core.label, String(error));
      this.core.onClose(ws);
    });
  }

  override async alarm(): Promise<void> {
    await guard(console, "relay.alarm", this.core.label, () => this.core.onAlarm(), Promise.resolve());
  }

  /** The live book for the simulator (RPC), or null when the relay has no synced book. */
  liveBook(depth = 400): LiveBook | null {
    return guard(console, "relay.liveBook", this.core.label, () => this.core.liveBook(depth), null);
  }

  /** Recent book changes for the simulator's latency estimate (RPC), or null before any book. */
  bookHistory(): BookHistorySnapshot | null {
    return guard(console, "relay.bookHistory", this.core.label, () => this.core.bookHistory(), null);
  }

  /** Counters and state (RPC, GET /status). */
  stats(): RelayStats {
    return this.core.snapshotStats();
  }

  /** Sorted lags of the relay's own acking book clients (RPC: /status merges them with its shards'). */
  clientLags(): number[] {
    return this.core.clientLags();
  }
}
