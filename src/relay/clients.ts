/**
 * The relay's client table (connection storage, like partyserver's ConnectionManager): which sockets are
 * attached, what each subscribed to, and each one's volatile flow state.
 *
 * Runtime facts: client sockets are accepted with the Hibernation API, so the object may be evicted while they
 * stay open. What must survive that lives in the socket's attachment (instId, kind, depth, id); flow counters do
 * not survive and are rebuilt fresh (`restore`), which errs towards sending: a rehydrated client starts with a
 * full budget and no window until its next ack.
 */
import { freshFlow, type FlowState } from "./flow.js";

/** The two subscriptions a client socket can carry. */
export type ClientKind = "book" | "prediction";

/** What survives hibernation for each client socket (its attachment). */
export interface Attachment {
  readonly instId: string;
  readonly kind: ClientKind;
  /** Book levels per side (book clients; 0 for prediction clients). */
  readonly depth: number;
  readonly id: number;
}

/** The subset of a WebSocket the relay uses, so the table and its users run in Node tests with fake sockets. */
export interface ClientSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  deserializeAttachment(): unknown;
}

/** One attached client. */
export interface Client extends Attachment {
  readonly flow: FlowState;
  /** Invalid messages received so far. */
  badMessages: number;
}

function isAttachment(v: unknown): v is Attachment {
  const a = v as Partial<Attachment> | null;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.instId === "string" &&
    (a.kind === "book" || a.kind === "prediction") &&
    typeof a.depth === "number" &&
    typeof a.id === "number"
  );
}

/** Attached clients by socket. */
export class ClientTable<S extends ClientSocket = ClientSocket> {
  private readonly bySocket = new Map<S, Client>();
  private nextId = 1;

  /** Rebuild from the runtime's sockets after hibernation or eviction; returns the instrument they carry. */
  restore(sockets: Iterable<S>): string | null {
    let instId: string | null = null;
    for (const ws of sockets) {
      const a = ws.deserializeAttachment();
      if (!isAttachment(a)) continue;
      instId ??= a.instId;
      this.nextId = Math.max(this.nextId, a.id + 1);
      this.bySocket.set(ws, { ...a, flow: freshFlow(), badMessages: 0 });
    }
    return instId;
  }

  /** The attachment for a new client (a fresh id); store it on the socket, then `add` it. */
  attachment(instId: string, kind: ClientKind, depth: number): Attachment {
    return { instId, kind, depth, id: this.nextId++ };
  }

  add(ws: S, a: Attachment): Client {
    const c: Client = { ...a, flow: freshFlow(), badMessages: 0 };
    this.bySocket.set(ws, c);
    return c;
  }

  /** Start a client's flow state afresh (its counters no longer match the seq numbering). */
  resetFlow(c: Client): void {
    Object.assign(c.flow, freshFlow());
  }

  get(ws: S): Client | undefined {
    return this.bySocket.get(ws);
  }

  /** Remove a client; false if it was not attached. */
  remove(ws: S): boolean {
    return this.bySocket.delete(ws);
  }

  get size(): number {
    return this.bySocket.size;
  }

  /** Clients as [socket, client] pairs (a copy: safe to remove clients while iterating). */
  entries(): [S, Client][] {
    return [...this.bySocket];
  }

  /** Live iteration (no copy) for the hot path; removing a client meanwhile is safe (Map iteration skips it). */
  [Symbol.iterator](): IterableIterator<[S, Client]> {
    return this.bySocket.entries();
  }

  /** Clients per kind. */
  counts(): Record<ClientKind, number> {
    const n = { book: 0, prediction: 0 };
    for (const c of this.bySocket.values()) n[c.kind]++;
    return n;
  }
}
