/**
 * Generates asyncapi/asyncapi.json, the AsyncAPI 3 description of TradeSim's two WebSocket APIs (`/ws/okx`,
 * `/ws/prediction`), with every payload schema generated from the wire types in src/protocol.ts
 * (ts-json-schema-generator: the interfaces, their literal `type` tags and their doc comments), so the document
 * cannot describe a message the relay does not build. The Worker serves the committed JSON at /asyncapi.json.
 *
 *   npx tsx asyncapi/build.ts           # rewrite asyncapi/asyncapi.json
 *   npx tsx asyncapi/build.ts --check   # exit 1 if the committed file differs from src/protocol.ts (tests run this)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createGenerator, type Definition } from "ts-json-schema-generator";
import { DEFAULT_DEPTH, MAX_CLIENT_FRAME, MAX_DEPTH, MAX_IN_FLIGHT } from "../src/protocol.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the document lives (committed; imported by src/routes/docs.ts). */
export const ASYNCAPI_FILE = resolve(ROOT, "asyncapi/asyncapi.json");

/** Wire types described (and all the types they reference). */
const ROOT_TYPES = ["ServerMessage", "ClientMessage"] as const;

/** The wire types' source. */
const PROTOCOL_FILE = resolve(ROOT, "src/protocol.ts");

/** JSON schemas of the wire types in `protocolFile`, `$ref`s pointing into `components.schemas`. */
function protocolSchemas(protocolFile: string): Record<string, Definition> {
  const gen = createGenerator({
    path: protocolFile,
    tsconfig: resolve(ROOT, "tsconfig.json"),
    expose: "export",
    topRef: true,
    jsDoc: "extended",
    skipTypeCheck: true,
    additionalProperties: false,
  });
  const out: Record<string, Definition> = {};
  for (const t of ROOT_TYPES) Object.assign(out, gen.createSchema(t).definitions);
  // Re-root the generator's `#/definitions/X` references.
  return JSON.parse(JSON.stringify(out).replaceAll('"#/definitions/', '"#/components/schemas/')) as Record<
    string,
    Definition
  >;
}

const INST_ID = {
  type: "string",
  pattern: "^[A-Z0-9]{1,12}(-[A-Z0-9]{1,12}){1,3}$",
  examples: ["BTC-USDT-SWAP"],
  description: "OKX instrument id.",
};
const licence = { name: "MIT", url: "https://opensource.org/license/mit" };

/** Public API: no authentication (an explicit empty requirement list). */
const none: [] = [];

const text = (value: string, description: string) => ({
  contentType: "text/plain",
  payload: { type: "string", const: value },
  summary: description,
});

/** The AsyncAPI 3.1 document, its schemas generated from `protocolFile` (default src/protocol.ts). */
/** Messages both WebSocket channels carry besides their data. */
const COMMON_MESSAGES = {
  status: { $ref: "#/components/messages/status" },
  error: { $ref: "#/components/messages/error" },
  ack: { $ref: "#/components/messages/ack" },
  ping: { $ref: "#/components/messages/ping" },
  pong: { $ref: "#/components/messages/pong" },
} as const;

export function buildAsyncApi(protocolFile = PROTOCOL_FILE): Record<string, unknown> {
  const schemas = protocolSchemas(protocolFile);
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const msg = (schema: string, title: string, summary: string, example: Record<string, unknown>) => ({
    name: schema,
    title,
    summary,
    contentType: "application/json",
    payload: ref(schema),
    examples: [{ name: schema, payload: example }],
  });
  const at = 1795509160845;
  const model = { name: "mid60", version: "book-f1" };
  return {
    asyncapi: "3.1.0",
    info: {
      title: "TradeSim WebSocket API",
      version: "0.1.0",
      description:
        "Live OKX order books relayed by one Durable Object per instrument (every book carries OKX's CRC32 of its top 25 levels so a client can verify it) and 60 s mid-price forecasts. Message schemas are generated from src/protocol.ts. Client SDKs: packages/sdk-ts (TypeScript), packages/sdk-py (Python).",
      license: licence,
    },
    defaultContentType: "application/json",
    servers: {
      local: {
        host: "127.0.0.1:8787",
        protocol: "ws",
        description: "`npm start`: wrangler dev + the local OKX exchange replaying real data.",
        security: none,
      },
    },
    channels: {
      book: {
        address: "/ws/okx",
        title: "Order book",
        description: `One instrument's L2 book. Query: instId (required), depth 1..${MAX_DEPTH} (default ${DEFAULT_DEPTH}). Invalid parameters get an HTTP 400 JSON error before the upgrade; an instrument OKX does not know gets an \`unknown_instrument\` error then close 4004. Flow control: ack the last processed seq; at most ${MAX_IN_FLIGHT} unacknowledged books are in flight, a slower reader is conflated to the latest book. Client frames over ${MAX_CLIENT_FRAME} bytes close the socket (1009), binary frames 1003, more than 10 invalid ones 1008; a client paused by its send budget without acking is closed with 4008; a client whose oldest unacknowledged book stays older than the relay's staleness bound is told (\`lagging\`) and closed with 4009.`,
        messages: {
          book: { $ref: "#/components/messages/book" },
          lagging: { $ref: "#/components/messages/lagging" },
          ...COMMON_MESSAGES,
        },
        bindings: {
          ws: {
            method: "GET",
            query: {
              type: "object",
              properties: {
                instId: INST_ID,
                depth: {
                  type: "integer",
                  minimum: 1,
                  maximum: MAX_DEPTH,
                  default: DEFAULT_DEPTH,
                  description: "Levels per side.",
                },
              },
              required: ["instId"],
              additionalProperties: false,
            },
            bindingVersion: "0.1.0",
          },
        },
      },
      prediction: {
        address: "/ws/prediction",
        title: "Mid-price forecasts",
        description:
          "Forecasts of the mid price at every horizon the model serves (point, 10-90 % band, gated flag; at most one message per second of exchange time) made on books and trades, and, once forecasts mature, their per-horizon rolling live score. Same validation, status and error messages as /ws/okx; any ack (its seq is not checked) renews the send budget.",
        messages: {
          prediction: { $ref: "#/components/messages/prediction" },
          score: { $ref: "#/components/messages/score" },
          ...COMMON_MESSAGES,
        },
        bindings: {
          ws: {
            method: "GET",
            query: {
              type: "object",
              properties: { instId: INST_ID },
              required: ["instId"],
              additionalProperties: false,
            },
            bindingVersion: "0.1.0",
          },
        },
      },
    },
    operations: {
      sendBook: {
        security: none,
        action: "send",
        channel: { $ref: "#/channels/book" },
        title: "Books and state",
        summary:
          "The relay sends the book on connect (if live) and after every change, status on connect and on every upstream state change, and errors.",
        messages: [
          { $ref: "#/channels/book/messages/book" },
          { $ref: "#/channels/book/messages/lagging" },
          { $ref: "#/channels/book/messages/status" },
          { $ref: "#/channels/book/messages/error" },
          { $ref: "#/channels/book/messages/pong" },
        ],
      },
      receiveBookAck: {
        security: none,
        action: "receive",
        channel: { $ref: "#/channels/book" },
        title: "Acks and pings",
        summary: "Clients acknowledge processed books (flow control) and may send the text `ping` at any time.",
        messages: [{ $ref: "#/channels/book/messages/ack" }, { $ref: "#/channels/book/messages/ping" }],
      },
      sendPrediction: {
        security: none,
        action: "send",
        channel: { $ref: "#/channels/prediction" },
        title: "Forecasts and scores",
        summary: "The relay sends the latest forecast and score on connect, then each new one.",
        messages: [
          { $ref: "#/channels/prediction/messages/prediction" },
          { $ref: "#/channels/prediction/messages/score" },
          { $ref: "#/channels/prediction/messages/status" },
          { $ref: "#/channels/prediction/messages/error" },
          { $ref: "#/channels/prediction/messages/pong" },
        ],
      },
      receivePredictionAck: {
        security: none,
        action: "receive",
        channel: { $ref: "#/channels/prediction" },
        title: "Acks and pings",
        summary: "Any ack renews the client's send budget; `ping` is answered `pong`.",
        messages: [{ $ref: "#/channels/prediction/messages/ack" }, { $ref: "#/channels/prediction/messages/ping" }],
      },
    },
    components: {
      schemas,
      messages: {
        book: msg(
          "BookMessage",
          "Book",
          "Top-N book after an upstream change, with OKX's checksum of the top 25 levels.",
          {
            type: "book",
            instId: "BTC-USDT-SWAP",
            seq: 42,
            ts: 1723161280800,
            seqId: 1926248,
            depth: 2,
            bids: [
              ["61805.2", "11.4"],
              ["61805.1", "0.2"],
            ],
            asks: [
              ["61805.3", "765"],
              ["61805.4", "3"],
            ],
            mid: 61805.25,
            spread: 0.1,
            checksum: -1190460187,
          },
        ),
        lagging: msg(
          "LaggingMessage",
          "Lagging",
          "Beyond the staleness bound: this client's oldest unacknowledged book (scope client: no books until it acks), or the relay serving it (scope relay: books keep coming).",
          {
            type: "lagging",
            instId: "BTC-USDT-SWAP",
            scope: "client",
            lagMs: 2300,
            boundMs: 2000,
            at,
          },
        ),
        status: msg("StatusMessage", "Status", "The relay's upstream OKX connection state.", {
          type: "status",
          instId: "BTC-USDT-SWAP",
          state: "resyncing",
          reason: "checksum",
          at,
        }),
        error: msg(
          "ErrorMessage",
          "Error",
          "A problem the client must know about; fatal errors are followed by a close.",
          {
            type: "error",
            code: "unknown_instrument",
            message: "OKX does not know instrument BTC-USDT-FOO",
            fatal: true,
          },
        ),
        prediction: msg("PredictionMessage", "Prediction", "Mid-price forecast with its 10 % / 90 % quantile band.", {
          type: "prediction",
          instId: "BTC-USDT-SWAP",
          ts: 1723161280800,
          mid: 61805.25,
          horizonSec: 60,
          predictedMid: 61805.25,
          predictedReturnBps: 0,
          low: 61734.2,
          high: 61876.3,
          model,
        }),
        score: msg("ScoreMessage", "Score", "Rolling live score of matured forecasts vs the no-change forecast.", {
          type: "score",
          instId: "BTC-USDT-SWAP",
          ts: 1723161341000,
          horizonSec: 60,
          count: 61,
          maeBps: 7.6,
          rmseBps: 8.5,
          baselineRmseBps: 8.5,
          hitRate: null,
          coverage: 0.84,
          model,
        }),
        ack: msg("ClientMessage", "Ack", "The client processed every message up to seq.", { op: "ack", seq: 42 }),
        ping: {
          name: "ping",
          title: "Ping",
          ...text("ping", "Keepalive; answered `pong` by the runtime without waking the relay."),
        },
        pong: { name: "pong", title: "Pong", ...text("pong", "Answer to `ping`.") },
      },
    },
  };
}

/** The document as committed: 2-space JSON and a final newline. */
export function renderAsyncApi(protocolFile = PROTOCOL_FILE): string {
  return `${JSON.stringify(buildAsyncApi(protocolFile), null, 2)}\n`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const want = renderAsyncApi();
  if (process.argv.includes("--check")) {
    const have = readFileSync(ASYNCAPI_FILE, "utf8");
    if (have !== want) {
      console.error("asyncapi/asyncapi.json is out of date with src/protocol.ts: run `npx tsx asyncapi/build.ts`");
      process.exit(1);
    }
  } else {
    writeFileSync(ASYNCAPI_FILE, want);
    console.error(`[asyncapi] wrote ${ASYNCAPI_FILE} (${want.length} bytes)`);
  }
}
