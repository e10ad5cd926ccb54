/**
 * The relay's side of fan-out sharding: which shard links are attached (each a hibernatable WebSocket from a
 * FanoutShard, tagged "link"), what each one's clients need, where a new client goes, and publishing each
 * serialized message once per shard.
 *
 * Counting is exact under a burst: each routed client carries a token the shard reports back in its next want,
 * so a client counts as pending from its route until its shard says it arrived (a want describes the clients the
 * shard held when it was sent; clients routed meanwhile stay pending), and a token never reported expires.
 *
 * Routing (`chooseRoute`): the relay serves up to `shardThreshold` clients itself (one-shard mode: no extra hop,
 * no extra object, what every small deployment gets); past that, new clients go to the least-loaded of the first
 * K shards, K = ceil(clients on shards / shardClients), at most maxShards. K follows the load both ways: when
 * clients leave, new ones fill the low shards again and the high ones drain, close their links and go idle.
 * Least-loaded beats a hash of a client id here: a shard keeps nothing per client beyond the socket, so there is
 * no affinity to preserve, and least-loaded stays balanced through a burst of connects.
 */
import { bookFrame, type LinkWant } from "./link.js";

/** Shard routing settings (part of RelayConfig). */
export interface ShardRouting {
  /** Clients the relay holds itself before new ones go to shards (0: every client goes through a shard). */
  readonly shardThreshold: number;
  /** Clients per shard before another shard is added. */
  readonly shardClients: number;
  /** Most shards per instrument. */
  readonly maxShards: number;
}

/** Where a new client goes (`token`: the route's number, which the shard reports back when the client arrives). */
export type Route =
  | { readonly to: "direct" }
  | { readonly to: "shard"; readonly shard: number; readonly token: number };

/** A routed client not reported by its shard within this time never arrived (its upgrade failed): stop counting it. */
const PENDING_EXPIRY_MS = 10_000;

/** What survives hibernation for a shard link socket (its attachment). */
export interface LinkAttachment {
  readonly role: "link";
  readonly instId: string;
  readonly shard: number;
  readonly want: LinkWant | null;
}

/** The socket operations the relay uses on a shard link. */
export interface LinkSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  deserializeAttachment(): unknown;
  serializeAttachment(value: unknown): void;
}

/** One shard as /status shows it. */
export interface ShardInfo {
  shard: number;
  clients: number;
  depths: number[];
  prediction: boolean;
}

/**
 * Where a new client goes, given the relay's own client count and the estimated clients per shard index
 * (missing indexes hold 0). Pure, table-tested.
 */
export function chooseRoute(
  direct: number,
  perShard: readonly number[],
  cfg: ShardRouting,
): { to: "direct" } | { to: "shard"; shard: number } {
  if (direct < cfg.shardThreshold) return { to: "direct" };
  let onShards = 1; // this client
  for (const n of perShard) onShards += n;
  const k = Math.max(1, Math.min(cfg.maxShards, Math.ceil(onShards / cfg.shardClients)));
  let best = 0;
  for (let i = 1; i < k; i++) if ((perShard[i] ?? 0) < (perShard[best] ?? 0)) best = i;
  return { to: "shard", shard: best };
}

function isLinkAttachment(v: unknown): v is LinkAttachment {
  const a = v as Partial<LinkAttachment> | null;
  return typeof a === "object" && a !== null && a.role === "link" && typeof a.shard === "number";
}

interface Link {
  readonly shard: number;
  readonly instId: string;
  want: LinkWant | null;
}

/** The shard links of one relay. */
export class ShardSet<L extends LinkSocket = LinkSocket> {
  private readonly links = new Map<L, Link>();
  /** Clients routed to each shard index and not yet reported by it: token -> routed at (Unix ms). */
  private readonly pending: Map<number, number>[] = [];
  private nextToken = 1;

  constructor(private readonly cfg: ShardRouting) {}

  /** Rebuild from the runtime's "link" sockets after hibernation or eviction. */
  restore(sockets: Iterable<L>): void {
    for (const ws of sockets) {
      const a = ws.deserializeAttachment();
      if (isLinkAttachment(a)) this.links.set(ws, { shard: a.shard, instId: a.instId, want: a.want });
    }
  }

  /** The attachment for a new link from shard `shard`; store it on the socket, then `attach`. */
  attachment(instId: string, shard: number): LinkAttachment {
    return { role: "link", instId, shard, want: null };
  }

  attach(ws: L, a: LinkAttachment): void {
    this.links.set(ws, { shard: a.shard, instId: a.instId, want: a.want });
  }

  has(ws: L): boolean {
    return this.links.has(ws);
  }

  /** Forget a link; false if it was not attached. */
  detach(ws: L): boolean {
    return this.links.delete(ws);
  }

  /** Attached links. */
  get size(): number {
    return this.links.size;
  }

  /** Where a new client goes (it counts towards the chosen shard as pending until that shard reports it). */
  route(directClients: number, now: number): Route {
    const r = chooseRoute(directClients, this.estimates(now), this.cfg);
    if (r.to === "direct") return r;
    const token = this.nextToken++;
    let p = this.pending[r.shard];
    if (!p) {
      p = new Map();
      this.pending[r.shard] = p;
    }
    p.set(token, now);
    return { ...r, token };
  }

  /** Record a shard's want; returns what the shard newly needs (to greet it with the current data). */
  onWant(ws: L, want: LinkWant): { newDepths: number[]; newPrediction: boolean } | null {
    const link = this.links.get(ws);
    if (!link) return null;
    const before = link.want;
    link.want = want;
    const p = this.pending[link.shard];
    if (p) for (const t of want.arrived) p.delete(t);
    try {
      ws.serializeAttachment({ role: "link", instId: link.instId, shard: link.shard, want } satisfies LinkAttachment);
    } catch {
      // closing: the next event forgets it
    }
    return {
      newDepths: want.depths.filter((d) => !before?.depths.includes(d)),
      newPrediction: want.prediction && !before?.prediction,
    };
  }

  /** Clients on shards (as last reported). */
  clients(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.want?.clients ?? 0;
    return n;
  }

  /** The depths some shard needs (the relay serializes each once per book change). */
  depths(): Set<number> {
    const out = new Set<number>();
    for (const l of this.links.values()) for (const d of l.want?.depths ?? []) out.add(d);
    return out;
  }

  /**
   * Send one book change to every link: one frame per link with every depth it asked for; links asking for the
   * same depths share one frame string. `send` is the relay's guarded send (a failure closes only that link).
   */
  publishBook(seq: number, ts: number, text: (depth: number) => string, send: (ws: L, frame: string) => void): void {
    const frames = new Map<string, string>();
    for (const [ws, l] of this.links) {
      const depths = l.want?.depths;
      if (!depths || depths.length === 0) continue;
      const key = depths.join(",");
      let f = frames.get(key);
      if (f === undefined) {
        f = bookFrame(seq, ts, new Map(depths.map((d) => [d, text(d)])));
        frames.set(key, f);
      }
      send(ws, f);
    }
  }

  /** The book frame for one link's depths (its greeting), or null when it asked for none. */
  bookFrameFor(ws: L, seq: number, ts: number, text: (depth: number) => string): string | null {
    const depths = this.links.get(ws)?.want?.depths;
    if (!depths || depths.length === 0) return null;
    return bookFrame(seq, ts, new Map(depths.map((d) => [d, text(d)])));
  }

  /** Send `frame` to every link (statuses), or to the links with prediction clients. */
  publish(frame: string, send: (ws: L, frame: string) => void, predictionOnly = false): void {
    for (const [ws, l] of this.links) if (!predictionOnly || l.want?.prediction) send(ws, frame);
  }

  /** Every link, for closing them all. */
  sockets(): L[] {
    return [...this.links.keys()];
  }

  /** Shards as /status shows them, by index. */
  summary(): ShardInfo[] {
    return [...this.links.values()]
      .map((l) => ({
        shard: l.shard,
        clients: l.want?.clients ?? 0,
        depths: [...(l.want?.depths ?? [])],
        prediction: l.want?.prediction ?? false,
      }))
      .sort((a, b) => a.shard - b.shard);
  }

  /** Estimated clients per shard index: its last report plus the clients routed to it and not yet reported. */
  private estimates(now: number): number[] {
    const est: number[] = [];
    this.pending.forEach((p, i) => {
      for (const [t, at] of p) if (now - at > PENDING_EXPIRY_MS) p.delete(t);
      est[i] = p.size;
    });
    for (const l of this.links.values()) est[l.shard] = (est[l.shard] ?? 0) + (l.want?.clients ?? 0);
    return est;
  }
}

/** Header of the relay's internal answer "connect this client to shard N" (never seen by clients). */
const SHARD_HEADER = "x-tradesim-shard";

/** The relay's answer to a /connect it routes to a shard: the Worker forwards the upgrade there. */
export function shardRedirect(shard: number, token: number): Response {
  return new Response(null, { status: 307, headers: { [SHARD_HEADER]: `${shard};${token}` } });
}

/** The shard (and route token) a relay answer routes to, or null when the relay accepted the client itself. */
export function redirectedShard(res: Response): { shard: number; token: number } | null {
  if (res.status !== 307) return null;
  const [shard, token] = (res.headers.get(SHARD_HEADER) ?? "").split(";").map(Number);
  const ok = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n) && n >= 0;
  return ok(shard) && ok(token) ? { shard, token } : null;
}

/** The Durable Object name of an instrument's shard. */
export function shardName(instId: string, shard: number): string {
  return `${instId}#${shard}`;
}
