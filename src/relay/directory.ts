/**
 * Directory: a single Durable Object ("global") that knows which instrument relays are active, so GET /status
 * can list them. In memory only (the product keeps no long-term state): relays report on every state change,
 * so after an eviction the list refills as soon as each active relay changes state or reports again.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import { relayConfig } from "./config.js";
import type { RelayReport } from "./core.js";
import { reserveSlot, type SlotLimiter } from "./ratelimit.js";

/** A relay's last report. */
export type DirectoryEntry = RelayReport;

export class Directory extends DurableObject<Env> {
  private readonly entries = new Map<string, DirectoryEntry>();
  private readonly limiter: SlotLimiter = { granted: [] };

  /**
   * Reserve an upstream connection slot (RPC): returns the Unix ms at which the caller may connect. OKX allows 3
   * new connections per second per IP; the window is padded by 10% for clock and network jitter.
   */
  reserveConnectSlot(): number {
    return reserveSlot(this.limiter, Date.now(), relayConfig(this.env).connectsPerSecond, 1100);
  }

  /** Record a relay's state (RPC). Idle relays with no clients are forgotten. */
  report(entry: DirectoryEntry): void {
    if (entry.state === "idle" && entry.clients === 0) this.entries.delete(entry.instId);
    else this.entries.set(entry.instId, entry);
  }

  /** Active relays (RPC). */
  list(): DirectoryEntry[] {
    return [...this.entries.values()].sort((a, b) => a.instId.localeCompare(b.instId));
  }
}
