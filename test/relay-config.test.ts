import { describe, expect, it } from "vitest";
import { ConfigError, parseRelayConfig, RELAY_DEFAULTS, relayConfig } from "../src/relay/config.js";

describe("parseRelayConfig", () => {
  it("takes production defaults for absent and empty vars", () => {
    expect(parseRelayConfig({})).toEqual(RELAY_DEFAULTS);
    expect(parseRelayConfig({ RELAY_GRACE_MS: "", OKX_WS_URL: "" })).toEqual(RELAY_DEFAULTS);
  });

  it.each([
    ["RELAY_PING_AFTER_MS", "1500", "pingAfterMs", 1500],
    ["RELAY_PONG_TIMEOUT_MS", "1000", "pongTimeoutMs", 1000],
    ["RELAY_GRACE_MS", "0", "graceMs", 0],
    ["RELAY_BACKOFF_BASE_MS", "100", "backoffBaseMs", 100],
    ["RELAY_BACKOFF_MAX_MS", "1000", "backoffMaxMs", 1000],
    ["RELAY_SUBSCRIBE_TIMEOUT_MS", "3000", "subscribeTimeoutMs", 3000],
    ["RELAY_INVALID_INSTRUMENT_MS", "2000", "invalidInstrumentMs", 2000],
    ["RELAY_CLIENT_BUDGET_BYTES", "1e12", "clientBudgetBytes", 1e12],
    ["RELAY_CLIENT_STALL_MS", " 3000 ", "clientStallMs", 3000],
    ["OKX_CONNECTS_PER_SECOND", "5", "connectsPerSecond", 5],
    ["RELAY_MAX_STALENESS_MS", "1500", "maxStalenessMs", 1500],
    ["RELAY_LAG_CLOSE_MS", "10000", "lagCloseMs", 10000],
    ["RELAY_COALESCE_LAG_MS", "100", "coalesceLagMs", 100],
    ["RELAY_COALESCE_INTERVAL_MS", "50", "coalesceIntervalMs", 50],
    ["RELAY_COALESCE_MAX_INTERVAL_MS", "5000", "coalesceMaxIntervalMs", 5000],
    ["OKX_WS_URL", "ws://127.0.0.1:8080/ws/v5/public", "okxWsUrl", "ws://127.0.0.1:8080/ws/v5/public"],
  ] as const)("%s=%s sets %s", (name, value, key, want) => {
    const cfg = parseRelayConfig({ [name]: value });
    expect(cfg[key]).toBe(want);
    // Everything else keeps its default.
    expect({ ...cfg, [key]: RELAY_DEFAULTS[key] }).toEqual(RELAY_DEFAULTS);
  });

  it.each([
    ["RELAY_PING_AFTER_MS", "abc"],
    ["RELAY_PING_AFTER_MS", "-5"],
    ["RELAY_PING_AFTER_MS", "30000"], // OKX drops an idle socket at 30 s: the ping must come before
    ["RELAY_GRACE_MS", "1.5"],
    ["RELAY_CLIENT_BUDGET_BYTES", "10"],
    ["RELAY_CLIENT_STALL_MS", "NaN"],
    ["OKX_CONNECTS_PER_SECOND", "0"],
    ["OKX_WS_URL", "https://ws.okx.com"],
  ])("rejects %s=%s with a message naming the var", (name, value) => {
    expect(() => parseRelayConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => parseRelayConfig({ [name]: value })).toThrow(new RegExp(`${name}=`));
  });

  it("names every invalid var at once", () => {
    try {
      parseRelayConfig({ RELAY_GRACE_MS: "x", RELAY_CLIENT_STALL_MS: "-1", OKX_WS_URL: "nope" });
      expect.unreachable();
    } catch (e) {
      expect(String(e)).toMatch(/RELAY_GRACE_MS=.*RELAY_CLIENT_STALL_MS=.*OKX_WS_URL=/);
    }
  });

  it("rejects a backoff base above its cap", () => {
    expect(() => parseRelayConfig({ RELAY_BACKOFF_BASE_MS: "5000", RELAY_BACKOFF_MAX_MS: "1000" })).toThrow(
      /must not exceed/,
    );
  });

  it("rejects a coalescing interval above its cap", () => {
    expect(() =>
      parseRelayConfig({ RELAY_COALESCE_INTERVAL_MS: "500", RELAY_COALESCE_MAX_INTERVAL_MS: "400" }),
    ).toThrow(/RELAY_COALESCE_INTERVAL_MS \(500\) must not exceed RELAY_COALESCE_MAX_INTERVAL_MS \(400\)/);
    expect(
      parseRelayConfig({ RELAY_COALESCE_INTERVAL_MS: "400", RELAY_COALESCE_MAX_INTERVAL_MS: "400" }),
    ).toMatchObject({
      coalesceIntervalMs: 400,
      coalesceMaxIntervalMs: 400,
    });
  });

  it("parses once per env object", () => {
    const env = { RELAY_GRACE_MS: "42" };
    const a = relayConfig(env);
    env.RELAY_GRACE_MS = "43";
    expect(relayConfig(env)).toBe(a);
    expect(relayConfig({ RELAY_GRACE_MS: "43" }).graceMs).toBe(43);
  });
});
