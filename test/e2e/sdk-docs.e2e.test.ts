/**
 * The API contract as a user meets it on the real stack (`wrangler dev` + the local exchange): /openapi.json and
 * /asyncapi.json name this deployment as their server, and /docs renders Swagger UI in headless Chromium from the
 * Worker's own assets (no request leaves the origin, no CSP violation) and runs "Try it out" against /health.
 */
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "./stack.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let stack: Stack;
let browser: Browser;
/** False until src/index.ts mounts docsRoutes (see the lead's TODO in the H4 report); then every test runs. */
let mounted = false;

beforeAll(async () => {
  stack = await startStack();
  mounted = (await fetch(`${stack.baseUrl}/asyncapi.json`)).status !== 404;
  if (mounted)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu"],
    });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("API documents and /docs on wrangler dev", () => {
  it("/openapi.json and /asyncapi.json name this deployment", async (ctx) => {
    if (!mounted) {
      console.warn("[e2e] SKIPPED: /asyncapi.json is 404, docsRoutes is not mounted in src/index.ts yet");
      ctx.skip();
    }
    const o = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as {
      servers: { url: string }[];
      paths: Record<string, unknown>;
    };
    expect(o.servers[0]!.url).toBe(stack.baseUrl);
    expect(Object.keys(o.paths).sort()).toEqual(["/health", "/simulate/trade", "/status"]);
    const a = (await (await fetch(`${stack.baseUrl}/asyncapi.json`)).json()) as {
      servers: Record<string, { host: string; protocol: string }>;
    };
    expect(a.servers.self).toMatchObject({ host: new URL(stack.baseUrl).host, protocol: "ws" });
  });

  it("/docs renders every operation from local assets, and Try it out answers", async (ctx) => {
    if (!mounted) {
      console.warn("[e2e] SKIPPED: /docs is not the bundled page yet, docsRoutes is not mounted in src/index.ts");
      ctx.skip();
    }
    const page = await browser.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (new URL(r.url()).origin !== stack.baseUrl && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    try {
      const res = await page.goto(`${stack.baseUrl}/docs`);
      expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
      await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
      expect((await page.locator(".opblock-summary-path").allTextContents()).sort()).toEqual([
        "/health",
        "/simulate/trade",
        "/status",
      ]);
      const health = page.locator("#operations-Service-getHealth");
      await health.locator(".opblock-summary").click();
      await health.locator(".execute").click();
      const status = health.locator(".live-responses-table .response .response-col_status").first();
      await status.waitFor({ timeout: 10_000 });
      expect((await status.textContent())?.trim()).toBe("200");
      expect(problems).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
