/**
 * Time to recover from each upstream fault, through `wrangler dev` with the PRODUCTION relay timers: a client on
 * /ws/okx, a fault injected through the local exchange, and the time from the injection until the client again
 * holds a book whose checksum equals the one recorded in the capture for the same seqId.
 */
import WebSocket from "ws";
import { parseFault, type FaultType } from "../tools/exchange/faults.js";
import type { Result } from "./lib.js";
import { startStack, type Stack } from "./stack.js";

const INST = "BTC-USDT-SWAP";

interface Msg {
  type: string;
  state?: string;
  reason?: string;
  seqId?: number | null;
  checksum?: number;
}

async function recoverOnce(
  stack: Stack,
  fault: FaultType | "refuse",
  timeoutMs: number,
): Promise<{ ms: number; detectedMs: number; states: string[] }> {
  const ws = new WebSocket(`${stack.ws}/ws/okx?instId=${INST}`);
  const msgs: { t: number; m: Msg }[] = [];
  ws.on("message", (d) => msgs.push({ t: performance.now(), m: JSON.parse(d.toString()) as Msg }));
  await new Promise((r, j) => {
    ws.once("open", r);
    ws.once("error", j);
  });
  const until = async (pred: () => boolean, ms: number) => {
    const end = performance.now() + ms;
    while (!pred()) {
      if (performance.now() > end)
        throw new Error(`timeout (${fault}); last: ${JSON.stringify(msgs.at(-1)?.m).slice(0, 200)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => msgs.some((x) => x.m.type === "book"), 15_000);
  await new Promise((r) => setTimeout(r, 500));
  const from = msgs.length;
  const t0 = performance.now();
  if (fault === "refuse") {
    stack.exchange.refuse(3000);
    stack.exchange.inject(parseFault("drop:0"), "all", INST);
  } else {
    stack.exchange.inject(parseFault({ type: fault, after: 0, closeAfterMs: 1000 }), "all", INST);
  }
  // recovered = after a non-live status, a book that matches the capture's checksum for its seqId
  // (scanned incrementally: books that arrived before the fault showed must not count)
  let sawFault = false;
  let detectedAt = 0;
  let recoveredAt = 0;
  let next = from;
  await until(() => {
    for (let i = next; i < msgs.length; i = ++next) {
      const { t, m } = msgs[i]!;
      if (m.type === "status" && m.state !== "live" && !sawFault) {
        sawFault = true;
        detectedAt = t;
      }
      if (sawFault && m.type === "book" && m.seqId != null) {
        const rec = stack.exchange.recent(INST).find((r) => r.seqId === m.seqId);
        if (rec && rec.checksum === m.checksum) {
          recoveredAt = t;
          return true;
        }
      }
    }
    return false;
  }, timeoutMs);
  const states = msgs
    .slice(from)
    .filter((x) => x.m.type === "status")
    .map((x) => `${x.m.state}${x.m.reason ? `(${x.m.reason.slice(0, 40)})` : ""}`);
  ws.terminate();
  return { ms: recoveredAt - t0, detectedMs: detectedAt - t0, states };
}

/** Recovery time per fault (production timers). Quick mode: gap only. */
export async function benchRecovery(quick: boolean): Promise<Result[]> {
  const faults: (FaultType | "refuse")[] = quick
    ? ["gap"]
    : ["gap", "checksum", "malformed", "drop", "notice", "refuse", "stall"];
  const out: Result[] = [];
  const stack = await startStack();
  try {
    for (const f of faults) {
      const r = await recoverOnce(stack, f, f === "stall" ? 60_000 : 20_000);
      out.push({
        name: `recover from ${f}`,
        value: r.ms,
        unit: "ms",
        note: `clients told after ${r.detectedMs.toFixed(1)} ms; ${r.states.join(" -> ")}`,
      });
      await new Promise((res) => setTimeout(res, 1500)); // let the relay settle (and the connection limiter refill)
    }
  } finally {
    await stack.stop();
  }
  return out;
}
