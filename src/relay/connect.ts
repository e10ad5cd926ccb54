/**
 * Connecting a client socket: the upgrade goes to the instrument's relay, which accepts it or answers with a
 * shard redirect; then it goes to that fan-out shard. One more Durable Object call at connect time in sharded
 * mode, none per message. Used by the Worker's /ws routes (relay name = instId) and by the workerd tests (a
 * unique relay name per test).
 */
import type { ClientKind } from "./clients.js";
import { redirectedShard, shardName } from "./shards.js";

/** What the client subscribes to. */
export interface ClientParams {
  readonly instId: string;
  readonly kind: ClientKind;
  readonly depth: number;
}

/** Forward the upgrade `raw` for `params` to relay `relay` (a Durable Object name), following a shard redirect. */
export async function connectClient(env: Env, relay: string, params: ClientParams, raw: Request): Promise<Response> {
  const url = new URL("https://relay/connect");
  url.searchParams.set("instId", params.instId);
  url.searchParams.set("kind", params.kind);
  url.searchParams.set("depth", String(params.depth));
  const res = await env.RELAY.get(env.RELAY.idFromName(relay)).fetch(new Request(url, raw));
  const to = redirectedShard(res);
  if (to === null) return res;
  url.searchParams.set("relay", relay);
  url.searchParams.set("shard", String(to.shard));
  url.searchParams.set("route", String(to.token));
  return env.SHARD.get(env.SHARD.idFromName(shardName(relay, to.shard))).fetch(new Request(url, raw));
}
