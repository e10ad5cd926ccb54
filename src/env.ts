/**
 * The Worker's bindings and vars: generated from wrangler.toml by `npm run cf-typegen` (`wrangler types`) into
 * worker-configuration.d.ts; `npm run check` fails when that file is out of date.
 */
export type Env = Cloudflare.Env;
