import { mkdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import {
  type EtcdServer,
  type MariaDbServer,
  type RedisServer,
  type ServiceProcess,
  startEtcd,
  startMariaDb,
  startRedis,
  startService,
} from "@im-core/testkit";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const routerToken = "router-token-for-the-browser-test";
const gatewayToken = "gateway-token-for-the-browser-test";
const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));

/** Serves the admin page (bundled with esbuild) on its own origin, like an admin tool's web server. */
async function servePage(): Promise<{ url: string; close: () => void }> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("../page/admin.ts", import.meta.url))],
    bundle: true,
    format: "iife",
    target: "chrome120",
    write: false,
  });
  const script = bundle.outputFiles[0]!.text;
  const { readFile } = await import("node:fs/promises");
  const html = await readFile(new URL("../page/index.html", import.meta.url), "utf8");
  const server = http.createServer((request, response) => {
    const isScript = request.url?.startsWith("/admin.js");
    response.writeHead(200, { "content-type": isScript ? "text/javascript" : "text/html; charset=utf-8" });
    response.end(isScript ? script : html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

describe("admin tools in a real browser (Connect JSON over HTTP/1.1 with CORS)", () => {
  let etcd: EtcdServer;
  let redis: RedisServer;
  let mariadb: MariaDbServer;
  let registry: ServiceProcess;
  let sequence: ServiceProcess;
  let page: { url: string; close: () => void };
  let otherOrigin: { url: string; close: () => void };
  let browser: Browser;

  beforeAll(async () => {
    [etcd, redis, mariadb, page, otherOrigin] = await Promise.all([
      startEtcd(),
      startRedis(),
      startMariaDb(),
      servePage(),
      servePage(),
    ]);
    const auth = {
      AUTH_TOKENS: `${routerToken}:router,${gatewayToken}:gateway@*`,
      CORS_ALLOWED_ORIGINS: page.url,
    };
    [registry, sequence] = await Promise.all([
      startService({
        entry: registryEntry,
        env: { ...auth, ETCD_ENDPOINTS: etcd.endpoints.join(",") },
      }),
      startService({
        entry: sequenceEntry,
        env: { ...auth, REDIS_URL: redis.url, MYSQL_URL: await mariadb.createDatabase() },
      }),
    ]);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    page?.close();
    otherOrigin?.close();
    await Promise.all([registry, sequence, etcd, redis, mariadb].map((server) => server?.dispose()));
  });

  async function open(origin: string): Promise<Page> {
    const tab = await browser.newPage();
    const query = new URLSearchParams({ registry: registry.url, sequence: sequence.url, token: routerToken });
    await tab.goto(`${origin}/?${query}`);
    return tab;
  }

  it("calls Lookup and Next, and shows Watch events live while a device registers and leaves", async () => {
    const tab = await open(page.url);
    await expect.poll(() => tab.textContent("#lookup")).toMatch(/^devices: 0 at revision \d+$/);
    await expect.poll(() => tab.textContent("#next")).toBe("numbers 1..3");
    await expect.poll(() => tab.textContent("#watch")).toMatch(/^watching from revision \d+$/);

    const gateway = createClient(RegistryService, createGrpcTransport({ baseUrl: registry.url }));
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
