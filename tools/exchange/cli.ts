/**
 * `npm run exchange -- --replay FILE [--replay FILE2] [--port 8080] [--speed 1] [--loop] [--drop-after N] ...`
 * Starts the local OKX-protocol exchange (see server.ts). Without --replay it serves the bundled real BTC-USDT-SWAP
 * stream, looped.
 */
import { parseArgs } from "node:util";
import { DATA } from "../lib/captures.js";
import { parseFault, type FaultSpec } from "./faults.js";
import { startExchange } from "./server.js";

const { values } = parseArgs({
  options: {
    replay: { type: "string", multiple: true },
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    speed: { type: "string", default: "1" },
    loop: { type: "boolean", default: false },
    "idle-timeout": { type: "string", default: "30000" },
    "conn-rate": { type: "string", default: "3" },
    "drop-after": { type: "string" },
    "gap-after": { type: "string" },
    "checksum-after": { type: "string" },
    "malformed-after": { type: "string" },
    "notice-after": { type: "string" },
    "stall-after": { type: "string" },
    fault: { type: "string", multiple: true },
    quiet: { type: "boolean", default: false },
    "original-ts": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run exchange -- [--replay FILE ...] [--port 8080] [--speed 1] [--loop]
  --replay FILE        capture to replay (cryptofeed raw format, .gz ok); default: bundled BTC-USDT-SWAP, looped
  --speed X            pace multiplier (1 = original pace; "inf" = as fast as possible)
  --loop               restart when the capture ends
  --original-ts        keep the captured timestamps (default: shifted so the replay looks live)
  --idle-timeout MS    close connections idle this long (default 30000, like OKX)
  --conn-rate N        new connections per second (default 3, like OKX; 0 = unlimited)
  --drop-after N       every connection: drop after N pushes   (also --gap-after, --checksum-after,
                       --malformed-after, --notice-after, --stall-after)
  --fault TYPE:N       generic form (types: drop gap checksum malformed notice stall subscribe-error seq-reset)
Control API (HTTP, same port): GET /__control/state, GET /__control/book?instId=X,
  POST /__control/fault {"type":"gap","after":10,"scope":"all"|"next"}, POST /__control/refuse {"ms":5000}`);
  process.exit(0);
}

const faults: FaultSpec[] = (values.fault ?? []).map(parseFault);
for (const type of ["drop", "gap", "checksum", "malformed", "notice", "stall"] as const) {
  const v = values[`${type}-after`];
  if (v !== undefined) faults.push(parseFault(`${type}:${v}`));
}
const replay = values.replay ?? [DATA.btcSwap];
const loop = values.replay === undefined ? true : values.loop;
const speed = values.speed === "inf" ? Infinity : Number(values.speed);

const ex = await startExchange({
  replay,
  port: Number(values.port),
  host: values.host,
  speed,
  loop,
  idleTimeoutMs: Number(values["idle-timeout"]),
  connectionsPerSecond: Number(values["conn-rate"]),
  originalTimestamps: values["original-ts"],
  faults,
  log: values.quiet ? undefined : (l) => console.error(`[exchange] ${l}`),
});
console.error(
  `[exchange] OKX v5 public WS at ${ex.url} — replaying ${replay.join(", ")} (${ex.timeline.events.length} pushes, ${ex.timeline.span.toFixed(1)} s, instruments: ${[...ex.timeline.bookInstruments].join(", ")}) at x${speed}${loop ? ", looped" : ""}`,
);
const stop = async () => {
  await ex.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
