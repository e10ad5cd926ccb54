import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * The workerd test configuration. Worker code runs inside workerd (the production runtime). The local OKX
 * exchange runs in Node (globalSetup) and the Worker reaches it over loopback, exactly as it reaches OKX in
 * production. `bindings` adds vars (e.g. the shard tests' small shard threshold); `include` picks the files.
 */
export function workersConfig(include: string[], bindings: Record<string, string> = {}) {
  return defineConfig({
    plugins: [
      cloudflareTest(({ inject }) => ({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // Test-sized per-IP limits (production: wrangler.toml). Tests that do not send CF-Connecting-IP share
          // the key "local", so the limits stay above what the whole suite sends in a minute.
          ratelimits: {
            SIMULATE_LIMITER: { namespace_id: "7101", simple: { limit: 300, period: 60 } },
            UPGRADE_LIMITER: { namespace_id: "7102", simple: { limit: 2000, period: 60 } },
          },
          bindings: {
            OKX_WS_URL: inject("exchangeUrl"),
            OKX_REST_URL: inject("exchangeHttp"),
            EXCHANGE_HTTP: inject("exchangeHttp"),
            // Short timers so fault tests finish in seconds; production defaults are in src/relay/config.ts.
            RELAY_PING_AFTER_MS: "1500",
            RELAY_PONG_TIMEOUT_MS: "1000",
            RELAY_GRACE_MS: "300",
            RELAY_BACKOFF_BASE_MS: "100",
            RELAY_BACKOFF_MAX_MS: "1000",
            RELAY_SUBSCRIBE_TIMEOUT_MS: "3000",
            RELAY_INVALID_INSTRUMENT_MS: "2000",
            // Production budget (4 MiB); a paused non-reader is closed after 3 s instead of 120 s.
            RELAY_CLIENT_STALL_MS: "3000",
            // The test's clients share one workerd thread with the relay: on a loaded machine an ack can wait seconds
            // behind the relay's own work (loading the model), which the staleness and coalescing rules would,
            // rightly, answer by skipping books. Tests here assert that every book arrives, so both bounds sit far
            // above such stalls; the rules themselves are tested with a fake clock (test/relay-core.test.ts,
            // test/flow.test.ts, test/shard-core.test.ts) and end to end (test/e2e/staleness.e2e.test.ts).
            RELAY_MAX_STALENESS_MS: "15000",
            RELAY_COALESCE_LAG_MS: "15000",
            ...bindings,
          },
        },
      })),
    ],
    test: {
      include,
      globalSetup: ["test/setup/exchange.global.ts"],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      // Files share one exchange and inject faults into it: run them one at a time.
      fileParallelism: false,
      silent: "passed-only",
    },
  });
}
