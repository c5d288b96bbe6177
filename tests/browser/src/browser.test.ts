import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import {
  chromiumLaunchOptions,
  type ServicePair,
  type StaticSite,
  serveStatic,
  startServicePair,
} from "@im-core/testkit";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const routerToken = "router-token-for-the-browser-test";
const gatewayToken = "gateway-token-for-the-browser-test";
const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));

/** Serves the admin page (bundled with esbuild) on its own origin, like an admin tool's web server. */
async function servePage(): Promise<StaticSite> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("../page/admin.ts", import.meta.url))],
    bundle: true,
    format: "iife",
    target: "chrome120",
    write: false,
  });
  const html = readFileSync(new URL("../page/index.html", import.meta.url), "utf8");
  return serveStatic(
    new Map([
      ["/index.html", html],
      ["/admin.js", bundle.outputFiles[0]!.text],
    ]),
  );
}

describe("admin tools in a real browser (Connect JSON over HTTP/1.1 with CORS)", () => {
  let services: ServicePair;
  let page: StaticSite;
  let otherOrigin: StaticSite;
  let browser: Browser;

  beforeAll(async () => {
    [page, otherOrigin] = await Promise.all([servePage(), servePage()]);
    services = await startServicePair({
      registryEntry,
      sequenceEntry,
      env: {
        AUTH_TOKENS: `${routerToken}:router,${gatewayToken}:gateway@*`,
        CORS_ALLOWED_ORIGINS: page.url,
      },
    });
    browser = await chromium.launch(chromiumLaunchOptions);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([page?.close(), otherOrigin?.close(), services?.dispose()]);
  });

  async function open(origin: string): Promise<Page> {
    const tab = await browser.newPage();
    const query = new URLSearchParams({
      registry: services.registry.url,
      sequence: services.sequence.url,
      token: routerToken,
    });
    await tab.goto(`${origin}/?${query}`);
    return tab;
  }

  it("calls Lookup and Next, and shows Watch events live while a device registers and leaves", async () => {
    const tab = await open(page.url);
    await expect.poll(() => tab.textContent("#lookup")).toMatch(/^devices: 0 at revision \d+$/);
    await expect.poll(() => tab.textContent("#next")).toBe("numbers 1..3");
    await expect.poll(() => tab.textContent("#watch")).toMatch(/^watching from revision \d+$/);

    const gateway = createClient(RegistryService, createGrpcTransport({ baseUrl: services.registry.url }));
    const asGateway = { headers: { authorization: `Bearer ${gatewayToken}` } };
    await gateway.register({ userId: "alice", deviceId: "phone", gatewayNode: "gw-1:9000" }, asGateway);
    await expect
      .poll(() => tab.locator("#events li").allTextContents())
      .toEqual(["PUT alice/phone @ gw-1:9000"]);
    await gateway.unregister({ userId: "alice", deviceId: "phone" }, asGateway);
    await expect
      .poll(() => tab.locator("#events li").allTextContents())
      .toEqual(["PUT alice/phone @ gw-1:9000", "DELETE alice/phone @ gw-1:9000"]);

    mkdirSync(resultsDir, { recursive: true });
    await tab.screenshot({ path: `${resultsDir}/admin-page.png`, fullPage: true });
    await tab.close();
  });

  it("refuses a page from an origin that is not on the allowlist", async () => {
    const tab = await open(otherOrigin.url);
    await expect.poll(() => tab.textContent("#lookup")).toMatch(/^error: /);
    await expect.poll(() => tab.textContent("#next")).toMatch(/^error: /);
    await tab.close();
  });
});
