/**
 * Sending to one connection, with the faults armed on it (faults.ts): the only place where a push can be altered,
 * delayed, duplicated or replaced. The exchange decides what to push; the sender decides how it reaches the wire.
 */
import { deflateRawSync } from "node:zlib";
import type { WebSocket } from "ws";
import type { Book } from "../../src/okx/book.js";
import { NOTICE_SERVICE_UPGRADE, type OkxBookData, type OkxLevel, type OkxWireEvent } from "../../src/okx/protocol.js";
import type { ConnectionRecord } from "./connlog.js";
import { UPDATE_FAULTS, type FaultSpec } from "./faults.js";
import { serializeBooks, type BookChannel, type BookFrame, type TopChannel } from "./pushes.js";

const HUGE_DEFAULT_BYTES = 4 * 1024 * 1024;

interface ArmedFault {
  readonly spec: FaultSpec;
  readonly firesAt: number;
}

/** One client connection and its per-connection fault state. */
export interface Conn {
  readonly id: string;
  readonly record: ConnectionRecord;
  readonly ws: WebSocket;
  /** instId -> full-depth channel the client used (books | books-l2-tbt). */
  readonly books: Map<string, BookChannel>;
  /** instId -> top-of-book channels (books5, bbo-tbt). */
  readonly tops: Map<string, Set<TopChannel>>;
  readonly trades: Set<string>;
  pushes: number;
  faults: ArmedFault[];
  stalled: boolean;
  subscribeError: boolean;
  lastActivity: number;
  /** clock-jump: added to every `ts` sent from now on. */
  tsJump: number;
  /** reorder: an update held back until the next update of the same instrument. */
  held: { instId: string; text: string } | null;
  /** client-idle: close when the client is silent this long. */
  clientIdle: { ms: number; timer: NodeJS.Timeout } | null;
  lastClientFrame: number;
}

/** A push on its way to one connection: `books` pushes keep their frame so faults can re-serialize them. */
export type Outgoing =
  | { readonly kind: "books"; readonly frame: BookFrame; readonly text: string }
  | { readonly kind: "other"; readonly text: string };

/** Every `"ts":"N"` in a push moved by `jump` ms (clock-jump fault; books, books5, bbo-tbt and trades alike). */
function jumpTs(text: string, jump: number): string {
  return text.replace(/"ts":"(\d+)"/g, (_, t: string) => `"ts":"${+t + jump}"`);
}

/** OKX's message for an unknown channel or instId (error 60018). */
export const unknownChannelMsg = (channel: string, instId: string) =>
  `Wrong URL or channel:${channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`;

/** An OKX `event:"error"` frame. */
export function okxError(code: string, msg: string, connId: string): string {
  return JSON.stringify({ event: "error", code, msg, connId } satisfies OkxWireEvent);
}

/**
 * Deletes (size "0") of prices above the worst ask: valid levels no book holds, so applying them changes nothing
 * (and the push's checksum stays right). `count` of them, from `start` upwards.
 */
function absentDeletes(book: Book, count: number): OkxLevel[] {
  const worst = book.asks.at(-1)?.price ?? book.bids[0]?.price ?? 1;
  const start = Math.floor(worst * 2) + 1;
  return Array.from({ length: count }, (_, k) => [String(start + k), "0", "0", "0"] as const);
}

/** What the sender needs from the exchange. */
interface SenderDeps {
  readonly log: (line: string) => void;
  /** The exchange's current book of an instrument. */
  readonly bookOf: (instId: string) => Book | undefined;
  /** A `books` snapshot of the current book (null before the first one). */
  readonly snapshotFor: (instId: string, channel: BookChannel) => string | null;
  /** Counts pushes for the exchange's stats. */
  readonly onPush: () => void;
}

/** The send path: `push` (with faults), `rawSend` (as is), `touch` (activity), `armClientIdle` (client-idle fault). */
export function createSender(d: SenderDeps) {
  const touch = (c: Conn) => {
    c.lastActivity = Date.now();
  };

  function rawSend(c: Conn, text: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(c.tsJump === 0 ? text : jumpTs(text, c.tsJump));
    touch(c);
  }

  /** Send a push as is (plus a held-back update right after the next update of its instrument: reorder). */
  function deliver(c: Conn, out: Outgoing): void {
    rawSend(c, out.text);
    if (c.held && out.kind === "books" && out.frame.action === "update" && out.frame.instId === c.held.instId) {
      rawSend(c, c.held.text);
      c.held = null;
    }
  }

  const withData = (out: Extract<Outgoing, { kind: "books" }>, data: Partial<OkxBookData>) =>
    serializeBooks({ ...out.frame, data: { ...out.frame.data, ...data } });

  /** Send a push to a connection, applying the first due fault that can act on it. */
  function push(c: Conn, out: Outgoing): void {
    if (c.stalled || c.ws.readyState !== c.ws.OPEN) return;
    const isUpdate = out.kind === "books" && out.frame.action === "update";
    const idx = c.faults.findIndex((f) => f.firesAt <= c.pushes && (isUpdate || !UPDATE_FAULTS.has(f.spec.type)));
    c.pushes++;
    d.onPush();
    if (idx < 0) {
      deliver(c, out);
      return;
    }
    const spec = c.faults[idx]!.spec;
    c.faults.splice(idx, 1);
    d.log(`fault ${spec.type} on ${c.id} after ${c.pushes - 1} pushes`);
    const books = out.kind === "books" ? out : undefined;
    switch (spec.type) {
      case "drop":
        c.ws.terminate();
        return;
      case "gap":
        return; // the update is silently lost
      case "checksum":
        deliver(c, {
          ...books!,
          text: withData(books!, { checksum: (books!.frame.data.checksum || 1) ^ 0x5a5a5a5a }),
        });
        return;
      case "malformed":
        rawSend(c, out.text.slice(0, Math.max(1, out.text.length >> 1)));
        return;
      case "notice":
        rawSend(
          c,
          JSON.stringify({
            event: "notice",
            code: NOTICE_SERVICE_UPGRADE,
            msg: "The connection will soon be closed for a service upgrade. Please reconnect.",
            connId: c.id,
          } satisfies OkxWireEvent),
        );
        setTimeout(() => c.ws.close(1001, "service upgrade"), spec.closeAfterMs ?? 1000).unref();
        deliver(c, out);
        return;
      case "stall":
        c.stalled = true;
        return;
      case "subscribe-error":
        c.subscribeError = true;
        deliver(c, out);
        return;
      case "seq-reset": // instrument-wide: handled by resetSequence; per connection it has no meaning
      case "client-idle": // armed at injection (armClientIdle)
        deliver(c, out);
        return;
      case "duplicate":
        deliver(c, out);
        rawSend(c, out.text);
        return;
      case "snapshot": {
        deliver(c, out);
        const snap = d.snapshotFor(books!.frame.instId, books!.frame.channel);
        if (snap) rawSend(c, snap);
        return;
      }
      case "reorder":
        if (c.held)
          deliver(c, out); // one held update at a time
        else c.held = { instId: books!.frame.instId, text: out.text };
        return;
      case "delete-missing": {
        const b = d.bookOf(books!.frame.instId)!;
        deliver(c, {
          ...books!,
          text: withData(books!, { asks: [...books!.frame.data.asks, ...absentDeletes(b, 1)] }),
        });
        return;
      }
      case "huge": {
        const b = d.bookOf(books!.frame.instId)!;
        const target = spec.bytes ?? HUGE_DEFAULT_BYTES;
        // Each padding level serializes to 25-30 bytes; size it from a sample, then top up if short.
        const per = JSON.stringify(absentDeletes(b, 100)).length / 100;
        let pad = absentDeletes(b, Math.ceil(Math.max(0, target - out.text.length) / per));
        let text = withData(books!, { asks: [...books!.frame.data.asks, ...pad] });
        while (text.length < target) {
          pad = absentDeletes(b, pad.length + Math.ceil((target - text.length) / per) + 1);
          text = withData(books!, { asks: [...books!.frame.data.asks, ...pad] });
        }
        deliver(c, { ...books!, text });
        return;
      }
      case "binary": {
        const text = c.tsJump === 0 ? out.text : jumpTs(out.text, c.tsJump);
        if (c.ws.readyState === c.ws.OPEN) c.ws.send(deflateRawSync(text), { binary: true });
        touch(c);
        return;
      }
      case "error-event":
        rawSend(
          c,
          okxError(
            spec.code ?? "60018",
            spec.code === undefined
              ? unknownChannelMsg("books", [...c.books.keys()][0] ?? "")
              : `injected error ${spec.code}`,
            c.id,
          ),
        );
        deliver(c, out);
        return;
      case "clock-jump":
        c.tsJump += spec.jumpMs ?? 3_600_000;
        deliver(c, out);
        return;
    }
  }

  /** client-idle: from now on, close the connection (4004) when the client has been silent for `ms`. */
  function armClientIdle(c: Conn, ms: number): void {
    if (c.clientIdle) clearInterval(c.clientIdle.timer);
    c.lastClientFrame = Date.now();
    const timer = setInterval(
      () => {
        if (Date.now() - c.lastClientFrame < ms) return;
        d.log(`client-idle close ${c.id}`);
        clearInterval(timer);
        c.ws.close(4004, `no data from the client for ${ms} ms`);
      },
      Math.max(10, Math.min(1000, ms / 10)),
    );
    timer.unref();
    c.clientIdle = { ms, timer };
  }
  return { push, rawSend, touch, armClientIdle };
}
