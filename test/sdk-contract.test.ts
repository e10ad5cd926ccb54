/**
 * The API contract the SDKs are built on: /openapi.json covers every HTTP endpoint with servers, operationIds,
 * `security: []` and a licence; asyncapi/asyncapi.json is generated from src/protocol.ts (drift fails here),
 * parses with @asyncapi/parser, and its payload schemas accept the relay's messages and reject malformed ones
 * (ajv); /docs is served from the bundle with a strict CSP. Redocly lints both documents in `npm run lint:api`.
 * Real relay messages are validated against the same schemas in test/e2e/sdk.e2e.test.ts.
 */
import { Parser } from "@asyncapi/parser";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ASYNCAPI_FILE, type buildAsyncApi, renderAsyncApi } from "../asyncapi/build.js";
import { asyncApiValidator } from "../asyncapi/validate.js";
import { copyDocsAssets } from "../asyncapi/docs-assets.mjs";
import type { BookMessage, ClientMessage, ServerMessage, StatusMessage } from "../src/protocol.js";
import { asyncApiDocument, docsRoutes, openApiDocument } from "../src/routes/docs.js";

type Schema = Record<string, unknown>;

/** Every `type` tag of ServerMessage; the compiler checks the list is complete (src/protocol.ts is the source). */
const SERVER_TYPES = [
  "book",
  "status",
  "error",
  "lagging",
  "prediction",
  "score",
] as const satisfies readonly ServerMessage["type"][];
type Missing = Exclude<ServerMessage["type"], (typeof SERVER_TYPES)[number]>;
const _allServerTypesListed: [Missing] extends [never] ? true : Missing = true;

describe("OpenAPI (GET /openapi.json)", () => {
  const doc = openApiDocument("https://tradesim.test");
  const ops = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    (["get", "post", "put", "delete", "patch"] as const).flatMap((m) =>
      item?.[m] ? [{ key: `${m.toUpperCase()} ${path}`, op: item[m]! }] : [],
    ),
  );

  it("covers every HTTP endpoint of the Worker, each with a unique operationId, a summary and a tag", () => {
    expect(ops.map((o) => o.key).sort()).toEqual(["GET /health", "GET /status", "POST /simulate/trade"]);
    const ids = ops.map((o) => o.op.operationId);
    expect(ids.sort()).toEqual(["getHealth", "getStatus", "simulateTrade"]);
    for (const { op } of ops) {
      expect(op.summary).toBeTruthy();
      expect(op.tags?.length).toBe(1);
    }
  });

  it("declares servers, `security: []` (public API), a licence, and a 4XX for every operation but /health", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "https://tradesim.test", description: "This deployment" }]);
    expect(doc.security).toEqual([]);
    expect(doc.info.license).toEqual({ name: "MIT", url: "https://opensource.org/license/mit" });
    for (const { key, op } of ops) {
      if (key === "GET /health") continue;
      expect(
        Object.keys(op.responses ?? {}).some((s) => /^4\d\d$/.test(s)),
        key,
      ).toBe(true);
    }
  });

  it("documents /status with the relay stats schema and the shared error body", () => {
    const schemas = doc.components?.schemas ?? {};
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(["StatusResponse", "RelayStats", "HealthResponse", "SimulateTradeRequest"]),
    );
    const status = doc.paths!["/status"]!.get!;
    expect(status.parameters).toEqual([expect.objectContaining({ name: "instId", in: "query", required: false })]);
  });
});

describe("AsyncAPI (GET /asyncapi.json)", () => {
  const doc = JSON.parse(readFileSync(ASYNCAPI_FILE, "utf8")) as ReturnType<typeof buildAsyncApi> & {
    components: { schemas: Record<string, Schema> };
  };

  it("the committed document is what src/protocol.ts generates (run `npx tsx asyncapi/build.ts` after changing it)", () => {
    expect(readFileSync(ASYNCAPI_FILE, "utf8")).toBe(renderAsyncApi());
  });

  it("parses with @asyncapi/parser without a diagnostic", async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(ASYNCAPI_FILE, "utf8"));
    expect(diagnostics.map((d) => `${d.severity} ${d.code} ${d.message} at ${d.path.join(".")}`)).toEqual([]);
    expect(document?.version()).toBe("3.1.0");
    expect(
      document
        ?.channels()
        .all()
        .map((c) => c.address())
        .sort(),
    ).toEqual(["/ws/okx", "/ws/prediction"]);
    expect(
      document
        ?.operations()
        .all()
        .map((o) => `${o.action()} ${o.id()}`)
        .sort(),
    ).toEqual(["receive receiveBookAck", "receive receivePredictionAck", "send sendBook", "send sendPrediction"]);
  });

  it("describes every member of ServerMessage and ClientMessage", () => {
    const server = doc.components.schemas.ServerMessage as { anyOf: { $ref: string }[] };
    const tags = server.anyOf.map(
      (r) =>
        (doc.components.schemas[r.$ref.split("/").pop()!] as { properties: { type: { const: string } } }).properties
          .type.const,
    );
    expect(tags.sort()).toEqual([...SERVER_TYPES].sort());
    expect(doc.components.schemas).toHaveProperty("ClientMessage");
  });

  it("its schemas accept well-formed messages and reject what the protocol forbids (ajv)", () => {
    const book = asyncApiValidator(doc, "BookMessage");
    const ok = {
      type: "book",
      instId: "BTC-USDT-SWAP",
      seq: 1,
      ts: 1723161280800,
      seqId: null,
      depth: 1,
      bids: [["3366.1", "7"]],
      asks: [["3366.8", "9"]],
      mid: 3366.45,
      spread: 0.7,
      checksum: 831078360,
    } satisfies BookMessage;
    expect(book(ok), JSON.stringify(book.errors)).toBe(true);
    expect(book({ ...ok, bids: [[3366.1, 7]] })).toBe(false); // levels are OKX's strings
    expect(book({ ...ok, bids: [["3366.1", "7", "0", "1"]] })).toBe(false); // [px, sz] only
    expect(book({ ...ok, extra: 1 })).toBe(false);
    const { checksum: _omit, ...noChecksum } = ok;
    expect(book(noChecksum)).toBe(false);
    const status = asyncApiValidator(doc, "StatusMessage");
    expect(status({ type: "status", instId: "X-Y", state: "live", at: 1 } satisfies StatusMessage)).toBe(true);
    expect(status({ type: "status", instId: "X-Y", state: "idle", at: 1 })).toBe(false); // `idle` is never sent
    const ack = asyncApiValidator(doc, "ClientMessage");
    expect(ack({ op: "ack", seq: 3 } satisfies ClientMessage)).toBe(true);
    expect(ack({ op: "ack" })).toBe(false);
  });

  it("is served with this deployment as its first server", () => {
    const served = asyncApiDocument("https://tradesim.test");
    expect(served.servers).toMatchObject({
      self: { host: "tradesim.test", protocol: "wss" },
      local: { host: "127.0.0.1:8787", protocol: "ws" },
    });
    expect(asyncApiDocument("http://127.0.0.1:9999").servers).toMatchObject({
      self: { host: "127.0.0.1:9999", protocol: "ws" },
    });
  });
});

describe("/docs", () => {
  it("is a page of the Worker's own assets under a strict CSP, no CDN", async () => {
    const res = await docsRoutes.request("https://tradesim.test/docs");
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.filter((u) => /^(https?:)?\/\//.test(u))).toEqual([]);
    expect(html).not.toMatch(/<script>(?!<)/); // no inline script
    // Every asset the page loads is produced by the web build's copy step.
    const dist = mkdtempSync(join(tmpdir(), "tradesim-docs-"));
    try {
      copyDocsAssets(dist);
      for (const u of urls.filter((x) => x.startsWith("/docs/assets/")))
        expect(existsSync(join(dist, u)), u).toBe(true);
      expect(readFileSync(join(dist, "docs/assets/swagger-ui-bundle.js"), "utf8").length).toBeGreaterThan(1_000_000);
      expect(existsSync(join(dist, "docs/assets/swagger-ui-LICENSE.txt"))).toBe(true);
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
