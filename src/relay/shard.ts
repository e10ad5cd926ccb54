/**
 * FanoutShard: one Durable Object per (instrument, shard index), named `instId#N`. It holds client sockets the
 * relay routed to it and forwards what the relay publishes over the shard link. This class only wires the
 * runtime's entry points to the shard core (src/relay/shard-core.ts).
 *
 * Runtime facts:
 * - Client sockets are hibernatable (`ctx.acceptWebSocket`), tagged `shard:N` so the index survives eviction.
 * - The link is an outbound WebSocket to the relay object (`stub.fetch` with Upgrade: websocket).
 * - `ping` from clients is answered `pong` by the runtime without waking the object.
 */
import { DurableObject } from "cloudflare:workers";
import { DEFAULT_DEPTH } from "../protocol.js";
import type { ClientKind } from "./clients.js";
import { relayConfig } from "./config.js";
import { guard } from "./guard.js";
import { ShardCore, type ShardIdentity, type ShardStats } from "./shard-core.js";
import { connectVia } from "./upstream.js";

/** Socket tags carrying the shard's identity (the runtime keeps tags across hibernation). */
const RELAY_TAG = "relay:";
const SHARD_TAG = "shard:";

/** The shard identity from a socket's tags, or null when they do not carry a valid one. */
function identityOf(tags: readonly string[]): ShardIdentity | null {
  const relay = tags.find((t) => t.startsWith(RELAY_TAG))?.slice(RELAY_TAG.length) ?? "";
  const shard = Number(tags.find((t) => t.startsWith(SHARD_TAG))?.slice(SHARD_TAG.length) ?? "x");
  return relay !== "" && Number.isSafeInteger(shard) && shard >= 0 ? { relay, shard } : null;
}

export class FanoutShard extends DurableObject<Env> {
  private readonly core: ShardCore<WebSocket>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.core = new ShardCore<WebSocket>(relayConfig(env), {
      now: Date.now,
      link: (at, instId, handlers) => {
        const relay = env.RELAY.get(env.RELAY.idFromName(at.relay));
        const url = new URL("https://relay/link");
        url.searchParams.set("instId", instId);
        url.searchParams.set("shard", String(at.shard));
        return connectVia((u, init) => relay.fetch(u, init), url.toString(), handlers);
      },
      setAlarm: (at) => ctx.storage.setAlarm(at),
      log: console,
      defer: (ms, fn) => void setTimeout(fn, ms),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    const sockets = ctx.getWebSockets();
    this.core.restore(sockets, sockets.length > 0 ? identityOf(ctx.getTags(sockets[0]!)) : null);
  }

  /** Upgrade routed here (`/connect?instId&kind&depth&relay&shard`, src/relay/connect.ts). */
  override async fetch(request: Request): Promise<Response> {
    return guard(
      console,
      "shard.fetch",
      this.core.label,
      () => {
        const url = new URL(request.url);
        const at = identityOf([
          `${RELAY_TAG}${url.searchParams.get("relay") ?? ""}`,
          `${SHARD_TAG}${url.searchParams.get("shard") ?? ""}`,
        ]);
        if (url.pathname !== "/connect" || at === null) return new Response("not found", { status: 404 });
        const instId = url.searchParams.get("instId") ?? "";
        const kind: ClientKind = url.searchParams.get("kind") === "prediction" ? "prediction" : "book";
        const depth = Number(url.searchParams.get("depth")) || DEFAULT_DEPTH;
        const pair = new WebSocketPair();
        const server = pair[1];
        const a = this.core.newAttachment(instId, at, kind, depth);
        this.ctx.acceptWebSocket(server, [`${RELAY_TAG}${at.relay}`, `${SHARD_TAG}${at.shard}`]);
        server.serializeAttachment(a);
        this.core.onOpen(server, a, Number(url.searchParams.get("route")));
        return new Response(null, { status: 101, webSocket: pair[0] });
      },
      new Response("shard error", { status: 500 }),
    );
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    guard(console, "shard.webSocketMessage", this.core.label, () => this.core.onMessage(ws, message));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    guard(console, "shard.webSocketClose", this.core.label, () => {
      this.core.onClose(ws);
      try {
        ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
      } catch {
        // already closed
      }
    });
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    guard(console, "shard.webSocketError", this.core.label, () => {
      console.warn("shard.webSocketError", this.core.label, String(error));
      this.core.onClose(ws);
    });
  }

  override async alarm(): Promise<void> {
    await guard(console, "shard.alarm", this.core.label, () => this.core.onAlarm(), Promise.resolve());
  }

  /** Counters and state (RPC, merged into GET /status). */
  stats(): ShardStats {
    return this.core.snapshotStats();
  }
}
