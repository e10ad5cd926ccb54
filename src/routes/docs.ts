/**
 * The API contract, served: `GET /openapi.json` (every HTTP endpoint, generated from the zod schemas that validate
 * them), `GET /asyncapi.json` (the two WebSocket APIs, generated from src/protocol.ts by asyncapi/build.ts) and
 * `GET /docs` (Swagger UI from the Worker's own assets, no CDN: asyncapi/docs-assets.mjs puts swagger-ui-dist in
 * web/dist/docs/assets at build time).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
import asyncApi from "../../asyncapi/asyncapi.json";
import type { Env } from "../env.js";
import { simulateRoutes } from "./simulate.js";
import { statusRoutes } from "./status.js";

const VERSION = "0.1.0";
const LICENCE = { name: "MIT", url: "https://opensource.org/license/mit" };
/** Where web/build.mjs puts the docs assets (asyncapi/docs-assets.mjs). */
const DOCS_ASSETS = "/docs/assets";

/**
 * operationIds for routes declared without one, keyed `METHOD path`. A route's own `operationId` wins; this only
 * fills the gap so every operation has a stable id for generated clients.
 */
const OPERATION_IDS: Readonly<Record<string, string>> = { "post /simulate/trade": "simulateTrade" };

type OpenApiDoc = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;

let cached: OpenApiDoc | null = null;

/** The OpenAPI 3.1 document of every HTTP endpoint, with `serverUrl` as its server. */
export function openApiDocument(serverUrl: string): OpenApiDoc {
  if (cached === null) {
    // A registry-only app: `route()` merges the sub-apps' OpenAPI definitions; it never serves a request.
    const registry = new OpenAPIHono();
    registry.route("/", simulateRoutes);
    registry.route("/", statusRoutes);
    const doc = registry.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "TradeSim API",
        version: VERSION,
        description:
          "HTTP API of TradeSim: market-order execution simulation on OKX order books (contracts-aware fills, OKX fee tiers, walk-the-book impact and a square-root-law estimate) and the service's own state. The WebSocket APIs (live books, forecasts) are described by the AsyncAPI document at /asyncapi.json. Errors are `{ error: { code, message, path? } }`. Client SDKs: packages/sdk-ts (TypeScript), packages/sdk-py (Python).",
        license: LICENCE,
      },
      servers: [{ url: "http://127.0.0.1:8787", description: "placeholder" }],
      security: [],
      tags: [
        { name: "Simulation", description: "Market-order execution simulation." },
        { name: "Service", description: "Liveness and relay state." },
      ],
    });
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of ["get", "post", "put", "delete", "patch"] as const) {
        const op = item?.[method];
        if (op === undefined) continue;
        op.operationId ??= OPERATION_IDS[`${method} ${path}`];
        if (op.tags === undefined || op.tags.length === 0)
          op.tags = [path.startsWith("/simulate") ? "Simulation" : "Service"];
      }
    }
    cached = doc;
  }
  return { ...cached, servers: [{ url: serverUrl, description: "This deployment" }] };
}

/** The AsyncAPI 3 document with this deployment as its first server (ws or wss as the request came). */
export function asyncApiDocument(origin: string): typeof asyncApi {
  const u = new URL(origin);
  const self = {
    host: u.host,
    protocol: u.protocol === "https:" ? "wss" : "ws",
    description: "This deployment.",
    security: [],
  };
  return { ...asyncApi, servers: { ...asyncApi.servers, self } } as typeof asyncApi;
}

/** CSP of the /docs page: its own assets only; Swagger UI styles elements inline and draws data: SVG icons. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TradeSim API</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${DOCS_ASSETS}/swagger-ui.css">
</head>
<body>
<p style="font:14px sans-serif;margin:12px 20px">HTTP API below (OpenAPI: <a href="/openapi.json">/openapi.json</a>). WebSocket APIs: <a href="/asyncapi.json">/asyncapi.json</a> (AsyncAPI 3).</p>
<div id="swagger-ui"></div>
<script src="${DOCS_ASSETS}/swagger-ui-bundle.js"></script>
<script src="${DOCS_ASSETS}/docs.js"></script>
</body>
</html>
`;

export const docsRoutes = new Hono<{ Bindings: Env }>();

docsRoutes.get("/openapi.json", (c) => c.json(openApiDocument(new URL(c.req.url).origin)));
docsRoutes.get("/asyncapi.json", (c) => c.json(asyncApiDocument(new URL(c.req.url).origin)));
docsRoutes.get("/docs", (c) =>
  c.html(DOCS_HTML, 200, {
    "content-security-policy": DOCS_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  }),
);
