/**
 * Relay configuration: every `OKX_*` / `RELAY_*` var parsed ONCE into a typed, validated object. Vars arrive as
 * strings (wrangler.toml `[vars]`, `.dev.vars`, the vitest pool's bindings); an empty or absent var takes the
 * production default, a present but invalid one is an error that names every bad var at once, so a typo in a
 * deployment fails loudly at the first request instead of silently running on a default.
 */

/** Typed relay settings (milliseconds and bytes; units in the names). */
export interface RelayConfig {
  /** Upstream OKX v5 public WebSocket (ws:// or wss://). */
  readonly okxWsUrl: string;
  /** Idle time before a keepalive `ping`; OKX closes a socket with no traffic for 30 s. */
  readonly pingAfterMs: number;
  /** No traffic this long after a ping = stalled: reconnect. */
  readonly pongTimeoutMs: number;
  /** Keep the upstream this long after the last client leaves. */
  readonly graceMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** No snapshot this long after subscribing = reconnect. */
  readonly subscribeTimeoutMs: number;
  /** How long an instrument OKX rejected (60018) is refused without asking OKX again. */
  readonly invalidInstrumentMs: number;
  /** Bytes a client may be sent beyond its last ack before it is paused. */
  readonly clientBudgetBytes: number;
  /** A client paused by its budget for this long is closed (4008). */
  readonly clientStallMs: number;
  /** New upstream connections per second across all relays (OKX: 3 per IP). */
  readonly connectsPerSecond: number;
  /** A client whose oldest unacknowledged book is older than this gets the latest on its next ack, and is told. */
  readonly maxStalenessMs: number;
  /** A client beyond the staleness bound this long is closed (4009). */
  readonly lagCloseMs: number;
  /** Behind the exchange by more than this (beyond the clock offset), the relay coalesces its broadcasts. */
  readonly coalesceLagMs: number;
  /** While coalescing, at most one book broadcast per this interval (every message is still applied). */
  readonly coalesceIntervalMs: number;
  /** The coalescing interval doubles while the relay stays behind, up to this (coalescer.ts). */
  readonly coalesceMaxIntervalMs: number;
  /** Clients the relay holds itself before new clients go to fan-out shards (0: every client through a shard). */
  readonly shardThreshold: number;
  /** Clients per fan-out shard before another shard is added. */
  readonly shardClients: number;
  /** Most fan-out shards per instrument. */
  readonly maxShards: number;
}

/** Production defaults (also the values documented in README "Configuration"). */
export const RELAY_DEFAULTS: RelayConfig = {
  okxWsUrl: "wss://ws.okx.com:8443/ws/v5/public",
  pingAfterMs: 20_000,
  pongTimeoutMs: 5_000,
  graceMs: 30_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  subscribeTimeoutMs: 10_000,
  invalidInstrumentMs: 60_000,
  // 4 MiB: ~40 min of the default 25-level stream, ~20 s of 400-level books at OKX's 100 ms pace.
  clientBudgetBytes: 4 * 1024 * 1024,
  clientStallMs: 120_000,
  connectsPerSecond: 3,
  maxStalenessMs: 2_000,
  lagCloseMs: 30_000,
  // Short stalls are ridden out by sending every book: with 250 ms, the 1,000-client x1 fan-out bench on this
  // 2-core VM (clients, exchange and workerd on the same cores) coalesced although the relay kept up on average.
  coalesceLagMs: 1_000,
  coalesceIntervalMs: 200,
  // Half the client staleness bound: a client that keeps up still gets a book well within it at the slowest pace.
  coalesceMaxIntervalMs: 1_000,
  // One object sends ~27k frames/s on this machine (bench): 250 clients at OKX's 100 books/s fit in about
  // that. workerd also slows superlinearly past ~300 sockets in one isolate (bench finding, README).
  shardThreshold: 250,
  shardClients: 250,
  maxShards: 64,
};

/** Env var behind each numeric setting, with its allowed range. */
const NUMERIC: readonly [keyof RelayConfig, string, number, number][] = [
  ["pingAfterMs", "RELAY_PING_AFTER_MS", 100, 29_000],
  ["pongTimeoutMs", "RELAY_PONG_TIMEOUT_MS", 100, 60_000],
  ["graceMs", "RELAY_GRACE_MS", 0, 3_600_000],
  ["backoffBaseMs", "RELAY_BACKOFF_BASE_MS", 1, 60_000],
  ["backoffMaxMs", "RELAY_BACKOFF_MAX_MS", 1, 600_000],
  ["subscribeTimeoutMs", "RELAY_SUBSCRIBE_TIMEOUT_MS", 100, 120_000],
  ["invalidInstrumentMs", "RELAY_INVALID_INSTRUMENT_MS", 0, 86_400_000],
  ["clientBudgetBytes", "RELAY_CLIENT_BUDGET_BYTES", 1024, 1024 ** 4],
  ["clientStallMs", "RELAY_CLIENT_STALL_MS", 100, 86_400_000],
  ["connectsPerSecond", "OKX_CONNECTS_PER_SECOND", 1, 100],
  ["maxStalenessMs", "RELAY_MAX_STALENESS_MS", 100, 600_000],
  ["lagCloseMs", "RELAY_LAG_CLOSE_MS", 100, 3_600_000],
  ["coalesceLagMs", "RELAY_COALESCE_LAG_MS", 10, 600_000],
  ["coalesceIntervalMs", "RELAY_COALESCE_INTERVAL_MS", 1, 10_000],
  ["coalesceMaxIntervalMs", "RELAY_COALESCE_MAX_INTERVAL_MS", 1, 60_000],
  ["shardThreshold", "RELAY_SHARD_THRESHOLD", 0, 1_000_000],
  ["shardClients", "RELAY_SHARD_CLIENTS", 1, 1_000_000],
  ["maxShards", "RELAY_MAX_SHARDS", 1, 1024],
];

/** A var that is set but invalid; the message lists every problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parse the relay settings from the Worker's env (strings); throws ConfigError naming every invalid var. */
export function parseRelayConfig(env: Readonly<Record<string, unknown>>): RelayConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = { ...RELAY_DEFAULTS };
  for (const [key, name, min, max] of NUMERIC) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const n =
      typeof raw === "number"
        ? raw
        : typeof raw === "string" && /^\s*[0-9][0-9.eE+]*\s*$/.test(raw)
          ? Number(raw)
          : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
    } else {
      out[key] = n;
    }
  }
  const url = env.OKX_WS_URL;
  if (url !== undefined && url !== "") {
    if (typeof url !== "string" || !/^wss?:\/\/[^\s/]+/.test(url)) {
      problems.push(`OKX_WS_URL=${JSON.stringify(url)} must be a ws:// or wss:// URL`);
    } else {
      out.okxWsUrl = url;
    }
  }
  const cfg = out as unknown as RelayConfig;
  if (problems.length === 0 && cfg.backoffBaseMs > cfg.backoffMaxMs) {
    problems.push(
      `RELAY_BACKOFF_BASE_MS (${cfg.backoffBaseMs}) must not exceed RELAY_BACKOFF_MAX_MS (${cfg.backoffMaxMs})`,
    );
  }
  if (problems.length === 0 && cfg.coalesceIntervalMs > cfg.coalesceMaxIntervalMs) {
    problems.push(
      `RELAY_COALESCE_INTERVAL_MS (${cfg.coalesceIntervalMs}) must not exceed RELAY_COALESCE_MAX_INTERVAL_MS (${cfg.coalesceMaxIntervalMs})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  return cfg;
}

const cache = new WeakMap<object, RelayConfig>();

/** `parseRelayConfig` once per env object (the runtime hands every request of an isolate the same env). */
export function relayConfig(env: object): RelayConfig {
  let c = cache.get(env);
  if (!c) {
    c = parseRelayConfig(env as Record<string, unknown>);
    cache.set(env, c);
  }
  return c;
}
