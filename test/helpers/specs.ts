/** Instrument specs shared by the simulator tests (OKX values; lotSz/minSz as in the 2022 REST capture). */
import type { InstrumentSpec } from "../../src/sim/instruments.js";

export const BTC_USDT_SWAP: InstrumentSpec = {
  instId: "BTC-USDT-SWAP",
  instType: "SWAP",
  ctVal: 0.01,
  ctMult: 1,
  ctType: "linear",
  tickSz: 0.1,
  lotSz: 1,
  minSz: 1,
  baseCcy: "BTC",
  quoteCcy: "USDT",
  settleCcy: "USDT",
  ctValCcy: "BTC",
};
