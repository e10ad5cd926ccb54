/**
 * The exchange's HTTP side: OKX REST instruments (GET /api/v5/public/instruments) and the control API under
 * /__control/ that tests, benchmarks and `npm run exchange` users drive:
 *
 * GET  /__control/state                          counters, per-instrument seqId and subscribers
 * GET  /__control/book?instId=X[&depth=25][&seqId=N]  the exchange's book now, or right after push N
 * GET  /__control/recent?instId=X                last pushes: seqId and the checksum recorded in the capture
 * GET  /__control/connections[?since=ID]         connection log: opened/closed, subscribes per instId
 * POST /__control/fault {"type":..., "after":N, "scope":"all"|"next", "instId":X, ...}
 * POST /__control/refuse {"ms":5000}
 * POST /__control/seq-reset?instId=X
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DATA } from "../lib/captures.js";
import { parseFault } from "./faults.js";
import { handleInstrumentsRequest, loadInstruments } from "./instruments.js";
import type { Exchange, ExchangeOptions } from "./server.js";

/**
 * Instrument specs that changed since the REST capture (2022-05-13) was taken, applied to its responses so they
 * match the bundled 2024 stream: BTC-USDT-SWAP's lot and minimum size went from 1 contract to 0.01 (the stream has
 * fractional contract sizes). Everything else is served as captured.
 */
const SPEC_UPDATES: Record<string, Record<string, string>> = { "BTC-USDT-SWAP": { lotSz: "0.01", minSz: "0.01" } };

function withSpecUpdates(r: { status: number; body: string } | null): { status: number; body: string } | null {
  if (r?.status !== 200 || !Object.keys(SPEC_UPDATES).some((id) => r.body.includes(`"${id}"`))) return r;
  const body = JSON.parse(r.body) as { data?: Record<string, unknown>[] };
  for (const d of body.data ?? []) Object.assign(d, SPEC_UPDATES[String(d.instId)] ?? {});
  return { status: r.status, body: JSON.stringify(body) };
}

let instrumentsLoaded = false;
/** The bundled REST instruments capture, loaded once on first use. */
function bundledInstruments(url: URL): { status: number; body: string } | null {
  if (!instrumentsLoaded) {
    loadInstruments(DATA.instruments20220513);
    instrumentsLoaded = true;
  }
  return withSpecUpdates(handleInstrumentsRequest(url));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json" }).end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      s += d;
      if (s.length > 65536) reject(new Error("body too large"));
    });
    req.on("end", () => resolve(s));
    req.on("error", reject);
  });
}

/** Answer one HTTP request (REST or control API). */
export async function handleControl(
  api: Exchange,
  rest: ExchangeOptions["rest"],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://x");
  const q = (k: string) => url.searchParams.get(k);
  try {
    if (url.pathname === "/api/v5/public/instruments" && rest !== null) {
      const r = (rest ?? bundledInstruments)(url);
      if (r) return json(res, r.status, r.body);
    }
    if (url.pathname === "/__control/state" && req.method === "GET") return json(res, 200, api.stats());
    if (url.pathname === "/__control/book" && req.method === "GET") {
      const instId = q("instId") ?? "";
      const seqId = q("seqId");
      const v = api.view(instId, Number(q("depth") ?? 25), seqId === null ? undefined : Number(seqId));
      if (!v)
        return json(res, 404, {
          error: seqId === null ? `unknown instId ${instId}` : `no book of ${instId} at seqId ${seqId} kept`,
        });
      const b = api.book(instId)!;
      return json(res, 200, { ...v, synced: b.synced });
    }
    if (url.pathname === "/__control/recent" && req.method === "GET")
      return json(res, 200, api.recent(q("instId") ?? ""));
    if (url.pathname === "/__control/connections" && req.method === "GET")
      return json(res, 200, api.connections(Number(q("since") ?? 0)));
    if (url.pathname === "/__control/fault" && req.method === "POST") {
      const body = JSON.parse(await readBody(req)) as { scope?: "all" | "next"; instId?: string };
      return json(res, 200, { armed: api.inject(parseFault(body), body.scope ?? "all", body.instId) });
    }
    if (url.pathname === "/__control/refuse" && req.method === "POST") {
      const body = JSON.parse(await readBody(req)) as { ms?: number };
      api.refuse(Number(body.ms ?? 0));
      return json(res, 200, { refusingUntil: api.refusingUntil() });
    }
    if (url.pathname === "/__control/seq-reset" && req.method === "POST") {
      api.resetSequence(q("instId") ?? "");
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/" || url.pathname === "/health") {
      const ws = `${api.url.split(":")[0]}://${req.headers.host}/ws/v5/public`;
      return json(res, 200, {
        exchange: "tradesim local OKX exchange",
        ws,
        instruments: [...api.timeline.instruments],
      });
    }
    json(res, 404, { code: "404", msg: "Not Found" });
  } catch (e) {
    json(res, 400, { error: (e as Error).message });
  }
}
