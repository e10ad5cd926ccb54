/**
 * The real stack for the end-to-end tests (tools/lib/devstack.ts): the local OKX exchange replaying the bundled real
 * BTC-USDT-SWAP capture, looped, with the REST instruments capture for the simulator's spec look-up, and
 * `wrangler dev` pointed at it.
 */
import { handleInstrumentsRequest, loadInstruments } from "../../tools/exchange/instruments.js";
import { DATA } from "../../tools/lib/captures.js";
import { type DevStack, startDevStack } from "../../tools/lib/devstack.js";

/** The running stack (tools/lib/devstack.ts). */
export type Stack = DevStack;

/**
 * Vars for tests that assert every book reaches a reading client: staleness and coalescing bounds far above the
 * stalls of a loaded 2-core CI machine (seconds, while the relay loads its model beside a ×4 replay), which those
 * rules would rightly answer by skipping books. The rules themselves: test/e2e/staleness.e2e.test.ts.
 */
export const STALL_TOLERANT = { RELAY_MAX_STALENESS_MS: "15000", RELAY_COALESCE_LAG_MS: "15000" } as const;

/** The stack for one e2e test file: exchange at ×`speed` with the instruments REST capture, wrangler dev with `vars`. */
export async function startStack(
  opts: { readyTimeoutMs?: number; vars?: Record<string, string>; speed?: number } = {},
): Promise<Stack> {
  loadInstruments(DATA.instruments20220513);
  return startDevStack({
    exchange: { speed: opts.speed ?? 1, rest: handleInstrumentsRequest },
    vars: opts.vars,
    readyTimeoutMs: opts.readyTimeoutMs,
  });
}
