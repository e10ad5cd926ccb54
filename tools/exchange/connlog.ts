/**
 * What the exchange saw, connection by connection: opened/closed, subscribe requests per instId. Tests read it to
 * prove what reached "OKX" (no reconnect storm, one upstream per relay, sockets closed after the grace period)
 * instead of trusting the relay's own counters.
 */

/** One WebSocket connection as the exchange saw it. */
export interface ConnectionRecord {
  /** Increasing per exchange (c1, c2, ... on the wire). */
  readonly id: number;
  readonly openedAt: number;
  closedAt: number | null;
  closeCode: number | null;
  /** Subscribe requests per instId (one request naming several channels of an instId counts once). */
  readonly subscribes: Record<string, number>;
  /** Subscribe requests refused per instId (unknown instId or channel, subscribe-error fault), counted likewise. */
  readonly refused: Record<string, number>;
  readonly unsubscribes: Record<string, number>;
}

/** The log as served by GET /__control/connections. */
export interface ConnectionLog {
  readonly opened: number;
  readonly closed: number;
  readonly open: number;
  /** Since start, all connections. */
  readonly subscribes: Record<string, number>;
  readonly refused: Record<string, number>;
  /** Connections with id > `since`, oldest first. */
  readonly connections: readonly ConnectionRecord[];
}

const count = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** The exchange's connection log; keeps the last `max` connections. */
export class ConnectionLogBook {
  private readonly records: ConnectionRecord[] = [];
  private opened = 0;
  private closed = 0;
  private readonly subscribes: Record<string, number> = {};
  private readonly refused: Record<string, number> = {};

  constructor(private readonly max = 5000) {}

  /** A connection was accepted: its record (ids start at 1). */
  open(): ConnectionRecord {
    const r: ConnectionRecord = {
      id: ++this.opened,
      openedAt: Date.now(),
      closedAt: null,
      closeCode: null,
      subscribes: {},
      refused: {},
      unsubscribes: {},
    };
    this.records.push(r);
    if (this.records.length > this.max) this.records.splice(0, this.records.length - this.max);
    return r;
  }

  close(r: ConnectionRecord, code: number): void {
    if (r.closedAt !== null) return;
    r.closedAt = Date.now();
    r.closeCode = code;
    this.closed++;
  }

  /** One subscribe request: the instIds it subscribed and those it was refused. */
  request(r: ConnectionRecord, ok: Iterable<string>, refused: Iterable<string>): void {
    for (const id of ok) {
      count(r.subscribes, id);
      count(this.subscribes, id);
    }
    for (const id of refused) {
      count(r.refused, id);
      count(this.refused, id);
    }
  }

  unsubscribe(r: ConnectionRecord, instId: string): void {
    count(r.unsubscribes, instId);
  }

  /** A copy of the log: connections with id > `since`. */
  snapshot(since: number, openNow: number): ConnectionLog {
    const connections = this.records
      .filter((r) => r.id > since)
      .map((r) => ({
        ...r,
        subscribes: { ...r.subscribes },
        refused: { ...r.refused },
        unsubscribes: { ...r.unsubscribes },
      }));
    return {
      opened: this.opened,
      closed: this.closed,
      open: openNow,
      subscribes: { ...this.subscribes },
      refused: { ...this.refused },
      connections,
    };
  }
}
