import type { Directory } from "./relay/directory.js";
import type { InstrumentRelay } from "./relay/relay.js";

/** Bindings and vars (wrangler.toml). */
export interface Env {
  RELAY: DurableObjectNamespace<InstrumentRelay>;
  DIRECTORY: DurableObjectNamespace<Directory>;
  /** Upstream OKX v5 public WebSocket URL (production: wss://ws.okx.com:8443/ws/v5/public). */
  OKX_WS_URL: string;
  /** OKX REST base URL for instrument specs (production: https://www.okx.com). */
  OKX_REST_URL: string;
  /** Optional: comma-separated allow-list of instIds; empty = any instId the upstream knows. */
  ALLOWED_INSTRUMENTS?: string;
  /** Optional: comma-separated allowed browser origins for the API and WebSockets; unset or "*" = any. */
  CORS_ORIGINS?: string;
}
