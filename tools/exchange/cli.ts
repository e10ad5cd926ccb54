/**
 * `npm run exchange -- --replay FILE [--replay FILE2] [--port 8080] [--speed 1] [--loop] [--drop-after N] ...`
 * Starts the local OKX-protocol exchange (see server.ts). Without --replay it serves the bundled real BTC-USDT-SWAP
 * stream, looped.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DATA } from "../lib/captures.js";
import { FAULT_TYPES, parseFault, type FaultSpec, type FaultType } from "./faults.js";
import { startExchange } from "./server.js";
import { selfSignedCert } from "./tls.js";

const afterFlags: Record<`${FaultType}-after`, { type: "string" }> = Object.fromEntries(
  FAULT_TYPES.map((t) => [`${t}-after`, { type: "string" as const }]),
) as Record<`${FaultType}-after`, { type: "string" }>;
const { values } = parseArgs({
  options: {
    replay: { type: "string", multiple: true },
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    speed: { type: "string", default: "1" },
    loop: { type: "boolean", default: false },
    "idle-timeout": { type: "string", default: "30000" },
    "conn-rate": { type: "string", default: "3" },
    ...afterFlags,
    fault: { type: "string", multiple: true },
    tls: { type: "boolean", default: false },
    "tls-cert-out": { type: "string" },
    quiet: { type: "boolean", default: false },
    "original-ts": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run exchange -- [--replay FILE ...] [--port 8080] [--speed 1] [--loop] [--tls]
  --replay FILE        capture to replay (cryptofeed raw format, .gz ok); default: bundled BTC-USDT-SWAP, looped
  --speed X            pace multiplier (1 = original pace; "inf" = as fast as possible)
  --loop               restart when the capture ends
  --original-ts        keep the captured timestamps (default: shifted so the replay looks live)
  --idle-timeout MS    close connections with no frame either way this long (default 30000, like OKX; code 4004)
  --conn-rate N        new connections per second (default 3, like OKX; 0 = unlimited)
  --tls                serve wss:// and https:// with a self-signed certificate made at start (selfsigned; cryptofeed
                       refuses ws://); --tls-cert-out FILE writes it (PEM) for clients, e.g. SSL_CERT_FILE=FILE
Channels: books (400-level snapshot, then updates; alias books-l2-tbt), books5, bbo-tbt, trades.
Faults, on every connection: --TYPE-after N (fires after N pushes) or --fault TYPE:N. Types:
  drop            close the TCP connection without a close frame
  gap             lose one update (the next prevSeqId does not match)
  checksum        one update with a wrong checksum
  malformed       one truncated JSON frame
  notice          OKX notice 64008 (service upgrade), close 1 s later
  stall           send nothing more, not even pong
  subscribe-error answer the next subscribe with event:error 60018
  seq-reset       the instrument's seqId chain restarts lower (seqId < prevSeqId), for every subscriber
  duplicate       one update sent twice (same seqId twice)
  snapshot        a fresh snapshot mid-stream after one update, without a resubscribe
  reorder         one update held back and sent after the next one (out of order)
  delete-missing  one update also deletes a price level that is not in the book
  huge            one valid update padded to 4 MiB (control API: "bytes") with deletes of absent levels
  binary          one push sent as a deflate-compressed binary frame
  client-idle     close (4004) once the client has sent nothing for 30 s (control API: "idleMs"), pushes or not
  error-event     an event:error 60018 (control API: "code") on the subscribed connection, then the push
  clock-jump      every later ts on the connection shifted by +1 h (control API: "jumpMs", may be negative)
Control API (HTTP, same port): GET /__control/state, GET /__control/book?instId=X[&depth=N][&seqId=N],
  GET /__control/recent?instId=X, GET /__control/connections[?since=ID] (opened/closed, subscribes per instId),
  POST /__control/fault {"type":"gap","after":10,"scope":"all"|"next","instId":"X"}, POST /__control/refuse
  {"ms":5000}, POST /__control/seq-reset?instId=X`);
  process.exit(0);
}

const faults: FaultSpec[] = (values.fault ?? []).map(parseFault);
for (const type of FAULT_TYPES) {
  const v = values[`${type}-after`];
  if (typeof v === "string") faults.push(parseFault(`${type}:${v}`));
}
const replay = values.replay ?? [DATA.btcSwap];
const loop = values.replay === undefined ? true : values.loop;
const speed = values.speed === "inf" ? Infinity : Number(values.speed);
const tls = values.tls ? await selfSignedCert(["localhost", values.host]) : undefined;
if (tls && values["tls-cert-out"]) writeFileSync(values["tls-cert-out"], tls.cert);

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
  tls,
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
