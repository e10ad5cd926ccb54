/**
 * The simulator's OpenAPI document as a contract: validated by a real linter (Redocly CLI, recommended rules) and
 * turned into a typed client with openapi-typescript, which must reject a body with two quantities (or none) at
 * COMPILE time. Both tools run as their CLIs, on the document the route serves.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openApiDocument } from "../src/routes/docs.js";
import { ERROR_CODES } from "../src/sim/schema.js";

const BIN = resolve(import.meta.dirname, "../node_modules/.bin");
const dir = mkdtempSync(join(tmpdir(), "tradesim-openapi-"));
const spec = join(dir, "openapi.json");
let doc: Record<string, unknown>;

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(join(BIN, cmd), args, { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  doc = JSON.parse(JSON.stringify(openApiDocument("http://x"))) as Record<string, unknown>;
  writeFileSync(spec, JSON.stringify(doc, null, 2));
});

describe("OpenAPI document of POST /simulate/trade", () => {
  it("passes `redocly lint` (recommended ruleset) without errors", () => {
    const r = run("redocly", ["lint", spec, "--format=summary"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(/\berror\b/);
  }, 120_000);

  it("advertises what is supported: no OPTION in the request's instType, error codes as an enum", () => {
    const schemas = (doc.components as { schemas: Record<string, { properties: Record<string, unknown> }> }).schemas;
    const inst = JSON.stringify(schemas.SimulateTradeRequest!.properties.instrument);
    expect(inst).not.toMatch(/"OPTION"/);
    const err = schemas.Error!.properties.error as { properties: { code: { enum: string[] } } };
    expect(err.properties.code.enum).toEqual([...ERROR_CODES]);
  });

  it("openapi-typescript client: exactly one of size/contracts/notional is enforced at compile time", () => {
    const gen = run("openapi-typescript", [spec, "-o", join(dir, "api.d.ts")]);
    expect(gen.status, gen.out).toBe(0);
    const check = (name: string, body: string) => {
      writeFileSync(
        join(dir, `${name}.ts`),
        `import type { components } from "./api";\ntype Req = components["schemas"]["SimulateTradeRequest"];\n${body}\n`,
      );
      return run("tsc", [
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        join(dir, `${name}.ts`),
      ]);
    };
    // One quantity compiles; two or none must be compile errors (an unused @ts-expect-error is itself an error).
    const good = check(
      "good",
      [
        `export const one: Req = { instId: "BTC-USDT-SWAP", side: "buy", contracts: 250 };`,
        `// @ts-expect-error two quantities`,
        `export const two: Req = { instId: "BTC-USDT-SWAP", side: "buy", contracts: 250, size: 1 };`,
        `// @ts-expect-error no quantity`,
        `export const none: Req = { instId: "BTC-USDT-SWAP", side: "buy" };`,
      ].join("\n"),
    );
    expect(good.status, good.out).toBe(0);
    // Control: the same two-quantity body without the expectation fails to compile, naming the field.
    const bad = check(
      "bad",
      `export const two: Req = { instId: "BTC-USDT-SWAP", side: "buy", contracts: 250, notional: 100 };`,
    );
    expect(bad.status).not.toBe(0);
    expect(bad.out).toMatch(/notional|contracts/);
  }, 120_000);
});
