/**
 * Load-generator clients in a child process of their own, so 1,000 sockets do not share an event loop with the
 * local exchange whose send times they are measured against. Raw-socket WebSocket clients (tools/lib/rawws.ts):
 * per book frame they only find `"seq":` and `"seqId":` in the bytes (no JSON.parse) and ack every `ackEvery`-th
 * book like a flow-controlled consumer (the relay's window is 16 unacknowledged books).
 *
 * Parent side: `spawnClients()` forks this file under tsx and talks to it over IPC.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { openRawWs, type RawWs } from "../tools/lib/rawws.js";

const now = () => performance.timeOrigin + performance.now();

/** One seqId's delivery record: when the last client got it, and how many did. */
export type Delivery = [seqId: number, lastAt: number, count: number];

type Cmd =
  | { cmd: "open"; url: string; n: number; ackEvery: number }
  | { cmd: "reset" }
  | { cmd: "report" }
  | { cmd: "close" };

const BOOK = Buffer.from('{"type":"book"');
const SEQ = Buffer.from('"seq":');
const SEQID = Buffer.from('"seqId":');

function intAt(b: Buffer, i: number): number {
  let v = 0;
  for (let c = b[i]!; c >= 48 && c <= 57; c = b[++i]!) v = v * 10 + (c - 48);
  return v;
}

function child(): void {
  const sockets: RawWs[] = [];
  let deliveries = 0;
  let bytes = 0;
  let bySeqId = new Map<number, { t: number; count: number }>();
  const onBook = (payload: Buffer, t: number, ws: RawWs, state: { books: number }, ackEvery: number) => {
    if (payload.compare(BOOK, 0, BOOK.length, 0, BOOK.length) !== 0) return;
    deliveries++;
    bytes += payload.length;
    const i = payload.indexOf(SEQID);
    if (i >= 0) {
      const id = intAt(payload, i + SEQID.length);
      const e = bySeqId.get(id);
      if (e) {
        e.count++;
        if (t > e.t) e.t = t;
      } else bySeqId.set(id, { t, count: 1 });
    }
    if (++state.books % ackEvery === 0)
      ws.send(`{"op":"ack","seq":${intAt(payload, payload.indexOf(SEQ) + SEQ.length)}}`);
  };
  process.on("message", async (m: Cmd) => {
    try {
      if (m.cmd === "open") {
        for (let i = 0; i < m.n; i += 50) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(50, m.n - i) }, () => {
              const state = { books: 0 };
              let ws: RawWs | null = null;
              return openRawWs(m.url, (f) => {
                if (f.opcode === 1 && ws) onBook(f.payload, now(), ws, state, m.ackEvery);
              }).then((w) => (ws = w));
            }),
          );
          sockets.push(...batch);
        }
        process.send!({ ok: true, open: sockets.length });
      } else if (m.cmd === "reset") {
        deliveries = 0;
        bytes = 0;
        bySeqId = new Map();
        process.send!({ ok: true, at: now() });
      } else if (m.cmd === "report") {
        const rows: Delivery[] = [...bySeqId].map(([id, e]) => [id, e.t, e.count]);
        process.send!({
          ok: true,
          at: now(),
          deliveries,
          bytes,
          rows,
          closed: sockets.filter((s) => s.closeCode() !== null).length,
        });
      } else if (m.cmd === "close") {
        for (const s of sockets) s.socket.destroy();
        process.send!({ ok: true });
        process.exit(0);
      }
    } catch (e) {
      process.send!({ ok: false, error: String(e) });
    }
  });
  process.send!({ ok: true, ready: true });
}

export interface ClientsProcess {
  readonly pid: number;
  open(url: string, n: number, ackEvery?: number): Promise<void>;
  /** Forget deliveries so far; returns the child's clock at the reset. */
  reset(): Promise<number>;
  report(): Promise<{ at: number; deliveries: number; bytes: number; rows: Delivery[]; closed: number }>;
  close(): Promise<void>;
}

/** Fork the clients process (tsx loader) and wait until it is ready. */
export async function spawnClients(): Promise<ClientsProcess> {
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ["--child"], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const replies: ((m: Record<string, unknown>) => void)[] = [];
  proc.on("message", (m: Record<string, unknown>) => replies.shift()?.(m));
  const call = (cmd: Cmd | null) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      replies.push((m) => (m.ok ? res(m) : rej(new Error(String(m.error)))));
      if (cmd) proc.send(cmd);
    });
  await call(null); // ready
  return {
    pid: proc.pid!,
    async open(url, n, ackEvery = 8) {
      await call({ cmd: "open", url, n, ackEvery });
    },
    async reset() {
      return (await call({ cmd: "reset" })).at as number;
    },
    async report() {
      return (await call({ cmd: "report" })) as never;
    },
    async close() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.send({ cmd: "close" });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
}

if (process.argv.includes("--child")) child();
