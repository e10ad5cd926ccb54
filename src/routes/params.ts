/** Query-parameter validation shared by the WebSocket and HTTP routes. */
import { apiError } from "../errors.js";
import { INST_ID_RE } from "../okx/protocol.js";
import { DEFAULT_DEPTH, MAX_DEPTH } from "../protocol.js";

/** Validate `instId` (format, and the optional ALLOWED_INSTRUMENTS allow-list); throws a 400 otherwise. */
export function parseInstId(raw: string | undefined, allowList?: string): string {
  if (raw === undefined || raw === "")
    apiError(400, "missing_instId", "query parameter instId is required, e.g. ?instId=BTC-USDT-SWAP", "instId");
  if (raw.length > 64 || !INST_ID_RE.test(raw)) {
    apiError(
      400,
      "invalid_instId",
      `instId ${JSON.stringify(raw.slice(0, 64))} is not an OKX instrument id (e.g. BTC-USDT, BTC-USDT-SWAP, BTC-USD-250328)`,
      "instId",
    );
  }
  const allowed = allowList
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (allowed && allowed.length > 0 && !allowed.includes(raw)) {
    apiError(400, "unknown_instId", `instId ${raw} is not served here; allowed: ${allowed.join(", ")}`, "instId");
  }
  return raw;
}

/** Validate `depth` (integer 1..400, default 25); throws a 400 otherwise. */
export function parseDepth(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_DEPTH;
  if (!/^\d{1,4}$/.test(raw))
    apiError(400, "invalid_depth", `depth must be an integer from 1 to ${MAX_DEPTH}`, "depth");
  const n = Number(raw);
  if (n < 1 || n > MAX_DEPTH)
    apiError(400, "invalid_depth", `depth must be an integer from 1 to ${MAX_DEPTH}`, "depth");
  return n;
}
