/**
 * TradeSim Worker entry: builds the Hono app, mounts the routes, exports the Durable Object classes.
 * Everything interesting lives in the modules mounted here.
 */
import { Hono } from "hono";
import type { Env } from "./env.js";
import { notFound, onError } from "./errors.js";
import { apiCors, wsOriginGuard } from "./routes/cors.js";
import { docsRoutes } from "./routes/docs.js";
import { rateLimit } from "./routes/limits.js";
import { liveBookProvider } from "./routes/livebook.js";
import { simulateRoutes } from "./routes/simulate.js";
import { statusRoutes } from "./routes/status.js";
import { wsRoutes } from "./routes/ws.js";

export { InstrumentRelay } from "./relay/relay.js";
export { Directory } from "./relay/directory.js";
export { FanoutShard } from "./relay/shard.js";

/** The Worker's HTTP app (exported for route tests via `app.request()`). */
export const app = new Hono<{ Bindings: Env }>();

app.onError(onError);
app.notFound(notFound);
for (const path of ["/simulate/*", "/status", "/health", "/openapi.json", "/asyncapi.json"]) app.use(path, apiCors);
app.use("/ws/*", wsOriginGuard);
app.use("/ws/*", rateLimit("UPGRADE_LIMITER", "WebSocket connections"));
app.post("/simulate/*", rateLimit("SIMULATE_LIMITER", "simulations"));
app.use("/simulate/*", liveBookProvider);
app.route("/", statusRoutes);
app.route("/", docsRoutes);
app.route("/", wsRoutes);
app.route("/", simulateRoutes);

export default app satisfies ExportedHandler<Env>;
