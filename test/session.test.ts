import { describe, expect, it } from "vitest";
import * as S from "../src/relay/session.js";
import type { Upstream } from "../src/relay/upstream.js";

const T: S.SessionTiming = { pingAfterMs: 20_000, pongTimeoutMs: 5_000, subscribeTimeoutMs: 10_000 };
const socket: Upstream = { send: () => {}, close: () => {} };
const link = (lastRxAt: number, pingSentAt: number | null = null): S.Link => ({ socket, lastRxAt, pingSentAt });

describe("upstream session phases", () => {
  it.each<[string, S.Phase, S.Shown]>([
    ["idle", S.toIdle("no clients"), { state: "connecting", reason: null }],
    ["refused", S.toRefused("unknown", 0, 1000), { state: "connecting", reason: null }],
    ["connecting from idle", S.toConnecting(S.toIdle(null)), { state: "connecting", reason: null }],
    [
      "connecting keeps a down status",
      S.toConnecting({ tag: "backoff", retryAt: 0, shown: { state: "down", reason: "closed 1006" } }),
      { state: "down", reason: "closed 1006" },
    ],
    [
      "connecting after a resync backoff shows connecting",
      S.toConnecting({ tag: "backoff", retryAt: 0, shown: { state: "resyncing", reason: "gap" } }),
      { state: "connecting", reason: null },
    ],
    ["subscribing", S.toSubscribing(socket, 0, T), { state: "connecting", reason: "subscribing" }],
    ["live", { tag: "live", link: link(0), since: 0 }, { state: "live", reason: null }],
  ])("%s shows %j", (_n, phase, shown) => {
    expect(S.shownOf(phase)).toEqual(shown);
  });

  it("subscribing carries its own deadline; live resets the attempt counter", () => {
    const s = S.createSession();
    s.attempt = 4;
    const p = S.toSubscribing(socket, 1000, T);
    expect(p).toMatchObject({ tag: "subscribing", deadline: 11_000 });
    const live = S.toLive(s, S.linkOf(p)!, 1500);
    expect(live).toMatchObject({ tag: "live", since: 1500 });
    expect(s.attempt).toBe(0);
  });

  it("resyncs on the same socket until more than 3 in 10 s, then asks for a reconnect", () => {
    const s = S.createSession();
    const l = link(0);
    for (const t of [0, 1000, 2000]) {
      expect(S.toResyncing(s, l, "gap", t, T)).toMatchObject({
        tag: "subscribing",
        shown: { state: "resyncing", reason: "gap" },
        deadline: t + 10_000,
      });
    }
    expect(S.toResyncing(s, l, "gap", 3000, T)).toBeNull();
    // Old resyncs age out of the window.
    const s2 = S.createSession();
    for (const t of [0, 1000, 2000, 12_001]) expect(S.toResyncing(s2, l, "checksum", t, T)).not.toBeNull();
  });

  it("backoff counts attempts and rounds the retry time up to a whole ms", () => {
    const s = S.createSession();
    const p = S.toBackoff(s, { state: "down", reason: "x" }, 1000.2, 250.3);
    expect(p).toEqual({ tag: "backoff", retryAt: 1251, shown: { state: "down", reason: "x" } });
    expect(s.attempt).toBe(1);
  });

  it("wants a connection only when idle or after the refusal cool-down", () => {
    expect(S.wantsConnect(S.toIdle(null), 0)).toBe(true);
    const r = S.toRefused("OKX does not know X", 1000, 2000);
    expect(S.wantsConnect(r, 2999)).toBe(false);
    expect(S.isRefused(r, 2999)).toBe(true);
    expect(S.wantsConnect(r, 3000)).toBe(true);
    expect(S.isRefused(r, 3000)).toBe(false);
    for (const p of [
      S.toConnecting(S.toIdle(null)),
      S.toSubscribing(socket, 0, T),
      S.toRetryNow({ state: "down", reason: null }, 0),
    ]) {
      expect(S.wantsConnect(p, 0)).toBe(false);
    }
  });

  it("traffic clears an outstanding ping; the ping time is recorded", () => {
    let p: S.Phase = { tag: "live", link: link(0), since: 0 };
    p = S.onPingSent(p, 20_000);
    expect(S.linkOf(p)).toMatchObject({ lastRxAt: 0, pingSentAt: 20_000 });
    p = S.onReceive(p, 20_100);
    expect(S.linkOf(p)).toMatchObject({ lastRxAt: 20_100, pingSentAt: null });
    // Phases without a link are unchanged.
    const idle = S.toIdle(null);
    expect(S.onReceive(idle, 5)).toBe(idle);
  });
});

describe("timers", () => {
  it.each<[string, S.Phase, number, S.TimerDue | null, number | null]>([
    ["idle: none", S.toIdle(null), 1e9, null, null],
    ["backoff not yet", { tag: "backoff", retryAt: 500, shown: { state: "down", reason: null } }, 499, null, 500],
    [
      "backoff due",
      { tag: "backoff", retryAt: 500, shown: { state: "down", reason: null } },
      500,
      { kind: "retry" },
      500,
    ],
    [
      "slot due",
      { tag: "waiting-slot", at: 700, shown: { state: "connecting", reason: null } },
      700,
      { kind: "retry" },
      700,
    ],
    [
      "subscribe timeout first",
      { tag: "subscribing", link: link(0), deadline: 10_000, shown: { state: "connecting", reason: null } },
      10_000,
      { kind: "subscribe-timeout" },
      10_000,
    ],
    ["live, quiet < 20 s", { tag: "live", link: link(1000), since: 0 }, 20_999, null, 21_000],
    ["live, quiet 20 s: ping", { tag: "live", link: link(1000), since: 0 }, 21_000, { kind: "ping" }, 21_000],
    ["ping out, pong not due", { tag: "live", link: link(1000, 21_000), since: 0 }, 25_999, null, 26_000],
    [
      "ping out 5 s: stall",
      { tag: "live", link: link(1000, 21_000), since: 0 },
      26_000,
      { kind: "stall", silentMs: 25_000 },
      26_000,
    ],
  ])("%s", (_n, phase, now, due, deadline) => {
    expect(S.dueTimer(phase, now, T)).toEqual(due);
    expect(S.phaseDeadline(phase, T)).toBe(deadline);
  });
});
