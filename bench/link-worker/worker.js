// A two-object Worker for bench/link.ts (relay -> shard transport: DO RPC vs DO-to-DO WebSocket).
import { DurableObject } from "cloudflare:workers";
export class Sink extends DurableObject {
  n = 0;
  bad = 0;
  last = -1;
  bytes = 0;
  take(i, text) {
    if (i !== this.last + 1) this.bad++;
    this.last = i;
    this.n++;
    this.bytes += text.length;
  }
  deliver(i, text) {
    this.take(i, text);
  }
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/stats") return Response.json({ n: this.n, bad: this.bad, bytes: this.bytes });
    const pair = new WebSocketPair();
    pair[1].accept();
    pair[1].addEventListener("message", (ev) => {
      const s = ev.data;
      const nl = s.indexOf(" ");
      this.take(Number(s.slice(0, nl)), s);
    });
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
}
export class Source extends DurableObject {
  async run(mode, count, size, sink) {
    const stub = this.env.SINK.get(this.env.SINK.idFromName(sink));
    const body = "x".repeat(size);
    const t0 = Date.now();
    if (mode === "rpc") {
      let inflight = [];
      for (let i = 0; i < count; i++) {
        inflight.push(stub.deliver(i, body));
        if (inflight.length >= 16) {
          await Promise.all(inflight);
          inflight = [];
        }
      }
      await Promise.all(inflight);
    } else {
      const res = await stub.fetch("https://sink/ws", { headers: { Upgrade: "websocket" } });
      const ws = res.webSocket;
      ws.accept();
      for (let i = 0; i < count; i++) ws.send(i + " " + body);
      // wait until the sink has them all
      for (;;) {
        const s = await (await stub.fetch("https://sink/stats")).json();
        if (s.n >= count) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      ws.close(1000, "done");
    }
    const s = await (await stub.fetch("https://sink/stats")).json();
    return { ms: Date.now() - t0, ...s };
  }
}
export default {
  async fetch(req, env) {
    const u = new URL(req.url);
    const src = env.SOURCE.get(env.SOURCE.idFromName(u.searchParams.get("sink")));
    return Response.json(
      await src.run(
        u.searchParams.get("mode"),
        Number(u.searchParams.get("count")),
        Number(u.searchParams.get("size")),
        u.searchParams.get("sink"),
      ),
    );
  },
};
