/**
 * The relay's upstream session as a state machine: a discriminated union of phases, each carrying its own
 * deadline, and one pure function per transition. The relay core performs the effects (connect, send, close,
 * broadcast) and asks these functions what comes next; nothing here touches a socket or a clock.
 *
 *   idle ──client──► connecting ──slot later──► waiting-slot ──alarm──► connecting
 *   connecting ──open──► subscribing ──snapshot──► live ──fault──► subscribing (resync, same socket)
 *   connecting ──fail──► backoff ──alarm──► connecting          open phases ──close/stall/timeout──► backoff
 *   any ──OKX rejects the instrument──► refused (until a cool-down ends) ──client──► connecting
 *   open phases ──last client gone + grace──► idle
 */
import type { UpstreamState } from "../protocol.js";
import type { Upstream } from "./upstream.js";

/** What clients are told about the upstream (a `status` message), derived from the phase. */
export interface Shown {
  readonly state: UpstreamState;
  readonly reason: string | null;
}

/** An open upstream socket and its keepalive bookkeeping. */
export interface Link {
  readonly socket: Upstream;
  /** Last frame received (Unix ms): any traffic proves the connection alive. */
  readonly lastRxAt: number;
  /** When our keepalive `ping` went out; null when none is outstanding. */
  readonly pingSentAt: number | null;
}

export type Phase =
  /** No upstream and none wanted (no clients, or the last one left). */
  | { readonly tag: "idle"; readonly reason: string | null }
  /** OKX rejected the instrument: clients are refused until `until` without asking OKX again. */
  | { readonly tag: "refused"; readonly until: number; readonly reason: string }
  /** Queued for one of OKX's connection slots (3 per second, shared through the Directory). */
  | { readonly tag: "waiting-slot"; readonly at: number; readonly shown: Shown }
  /** A connection attempt (or a slot reservation) is in flight. */
  | { readonly tag: "connecting"; readonly shown: Shown }
  /** Socket open, subscribed, waiting for the snapshot; `shown` says whether this is a resync. */
  | { readonly tag: "subscribing"; readonly link: Link; readonly deadline: number; readonly shown: Shown }
  /** Snapshot applied: the book is live. */
  | { readonly tag: "live"; readonly link: Link; readonly since: number }
  /** Waiting before the next connection attempt. */
  | { readonly tag: "backoff"; readonly retryAt: number; readonly shown: Shown };

/** The session: the phase plus what spans phases. */
export interface Session {
  phase: Phase;
  /** Consecutive failed attempts (backoff exponent); reset when a snapshot arrives. */
  attempt: number;
  /** Resync times (Unix ms) in the last RESYNC_WINDOW_MS: too many means reconnect instead. */
  resyncs: number[];
}

/** Resyncs tolerated within RESYNC_WINDOW_MS before the relay reconnects instead of resubscribing. */
export const MAX_RESYNCS = 3;
export const RESYNC_WINDOW_MS = 10_000;

/** Keepalive and timeout settings the transitions need. */
export interface SessionTiming {
  readonly pingAfterMs: number;
  readonly pongTimeoutMs: number;
  readonly subscribeTimeoutMs: number;
}

/** A new idle session. */
export function createSession(): Session {
  return { phase: { tag: "idle", reason: null }, attempt: 0, resyncs: [] };
}

/** The status clients see for a phase. */
export function shownOf(p: Phase): Shown {
  switch (p.tag) {
    case "idle":
    case "refused":
      return { state: "connecting", reason: null };
    case "live":
      return { state: "live", reason: null };
    default:
      return p.shown;
  }
}

/** The link of an open phase, else null. */
export function linkOf(p: Phase): Link | null {
  return p.tag === "subscribing" || p.tag === "live" ? p.link : null;
}

/** True when a client arriving now should start a connection (nothing open, pending or cooling down). */
export function wantsConnect(p: Phase, now: number): boolean {
  return p.tag === "idle" || (p.tag === "refused" && now >= p.until);
}

/** True while clients must be refused because OKX rejected the instrument. */
export function isRefused(p: Phase, now: number): p is Extract<Phase, { tag: "refused" }> {
  return p.tag === "refused" && now < p.until;
}

// ---- transitions ------------------------------------------------------------------------------------------------

/** Start (or restart) a connection attempt; a `down` status stays visible until a socket is open. */
export function toConnecting(from: Phase): Phase {
  const s = shownOf(from);
  return { tag: "connecting", shown: s.state === "down" ? s : { state: "connecting", reason: null } };
}

/** The connect slot is later than now: wait for it. */
export function toWaitingSlot(from: Phase, at: number): Phase {
  return { tag: "waiting-slot", at, shown: shownOf(from) };
}

/** The socket is open and the subscribe request sent. */
export function toSubscribing(socket: Upstream, now: number, t: SessionTiming): Phase {
  return {
    tag: "subscribing",
    link: { socket, lastRxAt: now, pingSentAt: null },
    deadline: now + t.subscribeTimeoutMs,
    shown: { state: "connecting", reason: "subscribing" },
  };
}

/** The snapshot arrived. */
export function toLive(s: Session, link: Link, now: number): Phase {
  s.attempt = 0;
  return { tag: "live", link, since: now };
}

/**
 * A book fault: resubscribe on the same socket (returns the subscribing phase), or null when faults repeat
 * (more than MAX_RESYNCS in RESYNC_WINDOW_MS) and the caller must reconnect instead.
 */
export function toResyncing(s: Session, link: Link, fault: string, now: number, t: SessionTiming): Phase | null {
  s.resyncs = s.resyncs.filter((at) => at > now - RESYNC_WINDOW_MS);
  s.resyncs.push(now);
  if (s.resyncs.length > MAX_RESYNCS) return null;
  return {
    tag: "subscribing",
    link,
    deadline: now + t.subscribeTimeoutMs,
    shown: { state: "resyncing", reason: fault },
  };
}

/** Wait `delayMs` before the next attempt (the caller computes the jittered delay from `s.attempt`). */
export function toBackoff(s: Session, shown: Shown, now: number, delayMs: number): Phase {
  s.attempt++;
  return { tag: "backoff", retryAt: Math.ceil(now + delayMs), shown };
}

/** Retry at once (OKX announced a service upgrade: reconnect before it closes the socket). */
export function toRetryNow(shown: Shown, now: number): Phase {
  return { tag: "backoff", retryAt: now, shown };
}

/** No upstream wanted. */
export function toIdle(reason: string | null): Phase {
  return { tag: "idle", reason };
}

/** OKX rejected the instrument: refuse clients for `coolDownMs`. */
export function toRefused(reason: string, now: number, coolDownMs: number): Phase {
  return { tag: "refused", until: now + coolDownMs, reason };
}

/** A frame arrived on the link: it proves the connection alive (clears an outstanding ping). */
export function onReceive(p: Phase, now: number): Phase {
  if (p.tag !== "subscribing" && p.tag !== "live") return p;
  return { ...p, link: { ...p.link, lastRxAt: now, pingSentAt: null } };
}

/** Our keepalive ping went out. */
export function onPingSent(p: Phase, now: number): Phase {
  if (p.tag !== "subscribing" && p.tag !== "live") return p;
  return { ...p, link: { ...p.link, pingSentAt: now } };
}

// ---- timers -----------------------------------------------------------------------------------------------------

/** What a due timer asks for. */
export type TimerDue =
  | { readonly kind: "retry" }
  | { readonly kind: "subscribe-timeout" }
  | { readonly kind: "stall"; readonly silentMs: number }
  | { readonly kind: "ping" };

/** The phase's next deadline (Unix ms), or null when it has none. */
export function phaseDeadline(p: Phase, t: SessionTiming): number | null {
  switch (p.tag) {
    case "waiting-slot":
      return p.at;
    case "backoff":
      return p.retryAt;
    case "subscribing":
      return Math.min(p.deadline, keepaliveDeadline(p.link, t));
    case "live":
      return keepaliveDeadline(p.link, t);
    default:
      return null;
  }
}

function keepaliveDeadline(l: Link, t: SessionTiming): number {
  return l.pingSentAt !== null ? l.pingSentAt + t.pongTimeoutMs : l.lastRxAt + t.pingAfterMs;
}

/** Which timer of the phase is due at `now` (subscribe timeout before stall before ping), or null. */
export function dueTimer(p: Phase, now: number, t: SessionTiming): TimerDue | null {
  if (p.tag === "waiting-slot") return now >= p.at ? { kind: "retry" } : null;
  if (p.tag === "backoff") return now >= p.retryAt ? { kind: "retry" } : null;
  const link = linkOf(p);
  if (!link) return null;
  if (p.tag === "subscribing" && now >= p.deadline) return { kind: "subscribe-timeout" };
  if (link.pingSentAt !== null) {
    return now - link.pingSentAt >= t.pongTimeoutMs ? { kind: "stall", silentMs: now - link.lastRxAt } : null;
  }
  return now - link.lastRxAt >= t.pingAfterMs ? { kind: "ping" } : null;
}
