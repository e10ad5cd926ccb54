/**
 * The IPC between a benchmark and the child process that generates its client load (bench/clients.ts,
 * bench/wsclients.ts). The load runs in its own process so that thousands of sockets do not share an event loop
 * with the measuring side; commands go one at a time and each gets one reply, in order (Node's IPC channel keeps
 * order), so the parent matches replies to calls with a queue.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

type Reply = Record<string, unknown>;

/** The parent's end of a forked load process. */
export interface ChildLink<C> {
  readonly pid: number;
  /** Send a command; resolves with the child's reply, rejects with the error it reported. */
  call(cmd: C): Promise<Reply>;
  /** Send a command that gets no reply (dropped when the child is gone). */
  post(cmd: C): void;
  /** Ask the child to close (`{cmd:"close"}`); killed if it has not exited 3 s later. */
  close(): Promise<void>;
}

/** Fork `moduleUrl` with `--child` under the tsx loader and wait until it reports ready. */
export async function forkChild<C extends { cmd: string }>(moduleUrl: string): Promise<ChildLink<C>> {
  const proc: ChildProcess = fork(fileURLToPath(moduleUrl), ["--child"], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const replies: ((m: Reply) => void)[] = [];
  proc.on("message", (m: Reply) => replies.shift()?.(m));
  const call = (cmd: C | null) =>
    new Promise<Reply>((res, rej) => {
      replies.push((m) => (m.ok ? res(m) : rej(new Error(String(m.error)))));
      if (cmd) proc.send(cmd);
    });
  await call(null); // ready
  return {
    pid: proc.pid!,
    call,
    post(cmd) {
      if (proc.connected) proc.send(cmd);
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

/**
 * The child's end: run `handle` for every command from the parent and send its result as the reply (`ok: true`
 * plus its fields; `undefined`: no reply), or `{ok: false, error}` when it throws; then report ready.
 */
export function serveCommands<C>(handle: (m: C) => Promise<Reply | undefined>): void {
  process.on("message", async (m: C) => {
    try {
      const reply = await handle(m);
      if (reply) process.send!({ ok: true, ...reply });
    } catch (e) {
      process.send!({ ok: false, error: String(e) });
    }
  });
  process.send!({ ok: true, ready: true });
}
