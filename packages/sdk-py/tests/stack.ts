/**
 * Starts the real local stack for the Python client's pytest (test/e2e/stack.ts: the local OKX exchange replaying
 * the bundled real BTC-USDT-SWAP capture and `wrangler dev` on free ports), prints one JSON line
 * `{"baseUrl","exchangeHttp"}` on stdout, and stops everything when stdin closes (the pytest fixture's end, or
 * pytest dying) or on SIGTERM/SIGINT.
 *
 * Run with tsx from the repo root: `node_modules/.bin/tsx packages/sdk-py/tests/stack.ts [VAR=value ...]`.
 */
import { startStack } from "../../../test/e2e/stack.js";

const vars = Object.fromEntries(
  process.argv.slice(2).map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]),
);
const stack = await startStack({ vars });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdout.write(`${JSON.stringify({ baseUrl: stack.baseUrl, exchangeHttp: stack.exchange.httpUrl })}\n`);
