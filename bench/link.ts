/**
 * Relay -> shard transport, measured both ways before picking (issue: scale-out): one Durable Object sends
 * `count` messages of a real book message's size to another, (a) as one DO RPC call per message (awaited in
 * order, 16 in flight) and (b) over a DO-to-DO WebSocket (the shard's link). Both objects run in one workerd
 * under `wrangler dev` (bench/link-worker/). Reported: messages/s delivered, and the receiver's order check.
 * Billing (developers.cloudflare.com/durable-objects/platform/pricing): every RPC call is a billed request;
 * WebSocket messages are billed 20:1 as incoming messages, and only when received by the object's accepted
 * (server) socket.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { REPO_ROOT } from "../tools/lib/captures.js";
import type { Result } from "./lib.js";
import { freePort } from "../tools/lib/devstack.js";

/** Messages/s from one object to another by RPC and by WebSocket. */
export async function benchLink(quick: boolean): Promise<Result[]> {
  const port = await freePort();
  const child = spawn(
    resolve(REPO_ROOT, "node_modules/.bin/wrangler"),
    ["dev", "--config", "bench/link-worker/wrangler.toml", "--port", String(port), "--ip", "127.0.0.1"],
    { cwd: REPO_ROOT, stdio: "ignore", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  const out: Result[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/?mode=rpc&count=1&size=1&sink=warm`)).ok) break;
      } catch {
        // not up yet
      }
      if (i > 240) throw new Error("wrangler dev (link bench) did not start");
      await new Promise((r) => setTimeout(r, 250));
    }
    const count = quick ? 500 : 20_000;
    const size = 2400; // ~ a 25-level BTC-USDT-SWAP book message
    for (const mode of ["rpc", "ws"] as const) {
      const res = await fetch(`${base}/?mode=${mode}&count=${count}&size=${size}&sink=${mode}-${Math.random()}`);
      const r = (await res.json()) as { ms: number; n: number; bad: number };
      out.push({
        name: `relay->shard link by ${mode === "rpc" ? "DO RPC (one call per message, 16 in flight)" : "DO-to-DO WebSocket"}, ${size} B messages`,
        value: (r.n / Math.max(1, r.ms)) * 1000,
        unit: "msgs/s",
        note: `${r.n}/${count} delivered${r.bad ? `, ${r.bad} out of order` : " in order"}`,
      });
    }
  } finally {
    child.kill("SIGTERM");
  }
  return out;
}
