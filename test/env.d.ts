// Bindings seen by workerd tests (`import { env } from "cloudflare:test"`): the Worker's Env plus test-only vars.
declare namespace Cloudflare {
  interface Env {
    RELAY: import("../src/env.js").Env["RELAY"];
    DIRECTORY: import("../src/env.js").Env["DIRECTORY"];
    OKX_WS_URL: string;
    OKX_REST_URL: string;
    ALLOWED_INSTRUMENTS?: string;
    CORS_ORIGINS?: string;
    /** Local exchange control API (http://127.0.0.1:PORT), set by vitest.workers.config.ts. */
    EXCHANGE_HTTP: string;
  }
}
