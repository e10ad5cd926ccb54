/**
 * The relay <-> shard link protocol (src/relay/link.ts) and the relay's shard routing (src/relay/shards.ts):
 * frames round-trip byte for byte, malformed frames are errors (never a wrong book), routing follows the
 * documented rule in a table, and pending counts stay exact under a burst of connects.
 */
import { describe, expect, it } from "vitest";
import {
  allFrame,
  bookFrame,
  fatalFrame,
  forecastFrame,
  parseLinkFrame,
  parseWant,
  scoreFrame,
  wantMessage,
} from "../src/relay/link.js";
import { chooseRoute, redirectedShard, shardRedirect, ShardSet, type LinkSocket } from "../src/relay/shards.js";

describe("link frames", () => {
  const b25 = '{"type":"book","seq":7,"bids":[["1.5","2"]],"note":"a;b\\nc,d:e"}';
  const b400 = '{"type":"book","seq":7,"bids":[]}';

  it("a book frame carries every depth's message byte for byte, with seq and ts", () => {
    const f = bookFrame(
      7,
      1700000000123,
      new Map([
        [25, b25],
        [400, b400],
      ]),
    );
    const r = parseLinkFrame(f);
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.kind !== "book") throw new Error("not a book");
    expect(r.value.seq).toBe(7);
    expect(r.value.ts).toBe(1700000000123);
    expect([...r.value.books]).toEqual([
      [25, b25],
      [400, b400],
    ]);
  });

  it.each([
    ["all", allFrame('{"type":"status"}'), { kind: "all", text: '{"type":"status"}' }],
    ["forecast", forecastFrame('{"type":"prediction"}'), { kind: "forecast", text: '{"type":"prediction"}' }],
    ["score", scoreFrame('{"type":"score"}'), { kind: "score", text: '{"type":"score"}' }],
    [
      "fatal (reason with ; and newline sanitized)",
      fatalFrame(4004, "unknown; instrument\nX", '{"type":"error"}'),
      { kind: "fatal", code: 4004, reason: "unknown  instrument X", text: '{"type":"error"}' },
    ],
  ])("%s round-trips", (_name, frame, want) => {
    expect(parseLinkFrame(frame)).toEqual({ ok: true, value: want });
  });

  it.each([
    ["unknown tag", "Zxyz"],
    ["empty", ""],
    ["book without header", "B7;1;25:3"],
    ["book with bad seq", "B-1;1;25:2\n{}"],
    ["book index longer than the frame", "B7;1;25:99\n{}"],
    ["book index shorter than the frame", "B7;1;25:1\n{}"],
    ["book with a bad index entry", "B7;1;x:2\n{}"],
    ["fatal without newline", "F4004;reason"],
    ["fatal with a bad code", "F99;r\n{}"],
  ])("rejects %s", (_name, frame) => {
    expect(parseLinkFrame(frame).ok).toBe(false);
  });

  it("a want round-trips (depths sorted and unique) and bad wants are refused", () => {
    const w = wantMessage(3, [400, 25, 25], true, [5, 6]);
    expect(parseWant(w)).toEqual({
      ok: true,
      value: { op: "want", clients: 3, depths: [25, 400], prediction: true, arrived: [5, 6] },
    });
    for (const bad of [
      "not json",
      new ArrayBuffer(2),
      '{"op":"want","clients":-1,"depths":[],"prediction":false,"arrived":[]}',
      '{"op":"want","clients":1,"depths":[0],"prediction":false,"arrived":[]}',
      '{"op":"want","clients":1,"depths":[401],"prediction":false,"arrived":[]}',
      '{"op":"want","clients":1,"depths":[25],"prediction":"yes","arrived":[]}',
      '{"op":"want","clients":1,"depths":[25],"prediction":false}',
      '{"op":"ack","seq":1}',
    ]) {
      expect(parseWant(bad).ok).toBe(false);
    }
  });

  it("the relay's redirect names shard and token; anything else is not a redirect", () => {
    expect(redirectedShard(shardRedirect(3, 17))).toEqual({ shard: 3, token: 17 });
    expect(redirectedShard(new Response(null, { status: 200 }))).toBeNull();
    expect(redirectedShard(new Response(null, { status: 307, headers: { "x-tradesim-shard": "x;1" } }))).toBeNull();
  });
});

describe("chooseRoute", () => {
  const cfg = { shardThreshold: 2, shardClients: 2, maxShards: 3 };
  it.each([
    // direct clients, estimated clients per shard, expected route
    [0, [], { to: "direct" }],
    [1, [5, 5], { to: "direct" }], // below the threshold the relay takes it, whatever the shards hold
    [2, [], { to: "shard", shard: 0 }],
    [2, [1], { to: "shard", shard: 0 }], // 2 on shards -> K = 1
    [2, [2], { to: "shard", shard: 1 }], // 3 -> K = 2, shard 1 is emptier
    [2, [2, 1], { to: "shard", shard: 1 }], // 4 -> K = 2
    [2, [2, 2], { to: "shard", shard: 2 }], // 5 -> K = 3
    [2, [3, 3, 3], { to: "shard", shard: 0 }], // 10 -> K capped at 3; ties go to the lowest index
    [2, [0, 0, 4], { to: "shard", shard: 0 }], // shrinking: 5 -> K = 3, low shards refill first
    [2, [0, 1, 0], { to: "shard", shard: 0 }], // 2 -> K = 1: the high shards drain
  ])("direct %i, shards %j -> %j", (direct, per, want) => {
    expect(chooseRoute(direct, per, cfg)).toEqual(want);
  });

  it("threshold 0 sends every client through a shard", () => {
    expect(chooseRoute(0, [], { shardThreshold: 0, shardClients: 250, maxShards: 64 })).toEqual({
      to: "shard",
      shard: 0,
    });
  });
});

class FakeLink implements LinkSocket {
  readonly sent: string[] = [];
  attachment: unknown = null;
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {}
  deserializeAttachment(): unknown {
    return this.attachment;
  }
  serializeAttachment(v: unknown): void {
    this.attachment = v;
  }
}

describe("ShardSet", () => {
  const cfg = { shardThreshold: 0, shardClients: 2, maxShards: 8 };

  it("a burst of connects before any want: pending counts keep every shard at its size", () => {
    const set = new ShardSet<FakeLink>(cfg);
    const shards = Array.from({ length: 8 }, () => (set.route(0, 1000) as { shard: number }).shard);
    expect(shards.sort()).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });

  it("a want that predates some arrivals keeps the later ones pending (no overfilling)", () => {
    const set = new ShardSet<FakeLink>(cfg);
    const link = new FakeLink();
    set.attach(link, set.attachment("X", 0));
    const r1 = set.route(0, 1000) as { token: number; shard: number };
    const r2 = set.route(0, 1000) as { token: number; shard: number };
    expect([r1.shard, r2.shard]).toEqual([0, 0]);
    // The shard reports with only the first client arrived: the second stays pending, so shard 0 counts 2.
    set.onWant(link, { op: "want", clients: 1, depths: [25], prediction: false, arrived: [r1.token] });
    expect((set.route(0, 1001) as { shard: number }).shard).toBe(1);
  });

  it("routed clients that never arrive stop counting after the expiry", () => {
    const set = new ShardSet<FakeLink>(cfg);
    set.route(0, 1000);
    set.route(0, 1000);
    expect((set.route(0, 1000) as { shard: number }).shard).toBe(1);
    // 11 s later none of them was reported: shard 0 and 1 count 0 again.
    expect((set.route(0, 12_000) as { shard: number }).shard).toBe(0);
  });

  it("publishes one frame per link, shared by links asking for the same depths; greets new depths", () => {
    const set = new ShardSet<FakeLink>(cfg);
    const [a, b, c] = [new FakeLink(), new FakeLink(), new FakeLink()];
    for (const [i, l] of [a, b, c].entries()) set.attach(l, set.attachment("X", i));
    set.onWant(a, { op: "want", clients: 1, depths: [25], prediction: false, arrived: [] });
    set.onWant(b, { op: "want", clients: 1, depths: [25], prediction: true, arrived: [] });
    const news = set.onWant(c, { op: "want", clients: 2, depths: [25, 400], prediction: false, arrived: [] });
    expect(news).toEqual({ newDepths: [25, 400], newPrediction: false });
    let serialized = 0;
    const text = (d: number) => {
      serialized++;
      return `{"depth":${d}}`;
    };
    set.publishBook(9, 5, text, (ws, f) => ws.send(f));
    expect(serialized).toBe(3); // [25] once for a and b, [25,400] once for c
    expect(a.sent[0]).toBe(b.sent[0]);
    const parsed = parseLinkFrame(c.sent[0]!);
    expect(parsed.ok && parsed.value.kind === "book" && [...parsed.value.books.keys()]).toEqual([25, 400]);
    set.publish("P{}", (ws, f) => ws.send(f), true);
    expect([a.sent.length, b.sent.length, c.sent.length]).toEqual([1, 2, 1]);
    expect(set.clients()).toBe(4);
    expect([...set.depths()].sort((x, y) => x - y)).toEqual([25, 400]);
    expect(set.summary().map((s) => [s.shard, s.clients])).toEqual([
      [0, 1],
      [1, 1],
      [2, 2],
    ]);
    // The want is kept in the socket's attachment: a restored set knows it.
    const again = new ShardSet<FakeLink>(cfg);
    again.restore([a, b, c]);
    expect(again.clients()).toBe(4);
  });
});
