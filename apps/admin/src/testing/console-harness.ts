// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's locator.innerText() is the rendered text meant here, not the DOM property.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService, SequenceService } from "@im-core/proto";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import {
  chromiumLaunchOptions,
  filesOf,
  type ServicePair,
  type StaticSite,
  serveStatic,
  startServicePair,
  startTcpProxy,
  type TcpProxy,
} from "@im-core/testkit";
import { forFile } from "@im-core/testkit/vitest";
import { type Browser, chromium, type Page } from "playwright-core";
import { bearer } from "../rpc/bearer";

export const TOKENS = {
  admin: "admin-token-for-the-console-test",
  router: "router-token-for-the-console-test",
  gateway: "gateway-token-for-the-console-test",
} as const;

export const REGISTRY_WATCH_BACKLOG = 100;

/** Waits on what the page shows, never fixed sleeps: generous for a cold, loaded two-core machine. */
export const SHOWN = { timeout: 30_000 };
const DIST = fileURLToPath(new URL("../../dist/", import.meta.url));
/**
 * Where the screenshots go: the committed docs/screenshots/ (which the README links) when
 * UPDATE_SCREENSHOTS=1, else results/ (gitignored), so that a test run leaves the working tree clean.
 */
const SCREENSHOTS = fileURLToPath(
  new URL(
    process.env.UPDATE_SCREENSHOTS === "1" ? "../../docs/screenshots/" : "../../results/",
    import.meta.url,
  ),
);

/**
 * The built console (dist/) on two origins, only the first on both services' CORS allowlist; both
 * services with admin, router and gateway tokens; the registry also behind a TCP proxy, whose cut is a
 * network outage between the browser and the registry; and a headless Chromium.
 */
export interface ConsoleHarness {
  services: ServicePair;
  /** The console's origin, allowed by both services. */
  site: StaticSite;
  /** The same console from an origin that is not on the allowlist. */
  foreignSite: StaticSite;
  /** The registry as the browser reaches it. */
  registryProxy: TcpProxy;
  browser: Browser;
  /** Registers devices as a gateway does (gRPC, gateway token). */
  gateway: Client<typeof RegistryService>;
  /** Allocates numbers as a router does (gRPC, router token). */
  numbers: Client<typeof SequenceService>;
  dispose(): Promise<void>;
}

export async function startConsoleHarness(): Promise<ConsoleHarness> {
  if (!existsSync(`${DIST}index.html`)) {
    throw new Error(`${DIST} has no build: run \`pnpm --dir apps/admin build\` (turbo's test task does)`);
  }
  const files = filesOf(DIST);
  const [site, foreignSite] = await Promise.all([serveStatic(files), serveStatic(files)]);
  const services = await startServicePair({
    registryEntry,
    sequenceEntry,
    env: {
      AUTH_TOKENS: `${TOKENS.admin}:admin,${TOKENS.router}:router,${TOKENS.gateway}:gateway@*`,
      CORS_ALLOWED_ORIGINS: site.url,
    },
    // The least recent history the registry keeps in memory, so a test can push a resume point out of it.
    registryEnv: { REGISTRY_WATCH_BACKLOG: String(REGISTRY_WATCH_BACKLOG) },
  });
  const registryProxy = await startTcpProxy(services.registry.port);
  const browser = await chromium.launch(chromiumLaunchOptions);
  return {
    services,
    site,
    foreignSite,
    registryProxy,
    browser,
    gateway: createClient(
      RegistryService,
      createGrpcTransport({ baseUrl: services.registry.url, interceptors: [bearer(TOKENS.gateway)] }),
    ),
    numbers: createClient(
      SequenceService,
      createGrpcTransport({ baseUrl: services.sequence.url, interceptors: [bearer(TOKENS.router)] }),
    ),
    async dispose() {
      await browser.close();
      await Promise.all([registryProxy.close(), site.close(), foreignSite.close(), services.dispose()]);
    },
  };
}

/** The harness of a whole test file: started before its first test, disposed after its last. */
export function consoleHarnessForFile(): () => ConsoleHarness {
  return forFile(startConsoleHarness, (harness) => harness.dispose());
}

/**
 * Opens the console from `origin` with the service URLs in its address (as a shared link does) and signs
 * in with `token` through the form, by keyboard. Resolves on the first view.
 */
export async function signIn(
  harness: ConsoleHarness,
  options: { token: string; origin?: string; registryUrl?: string; sequenceUrl?: string },
): Promise<Page> {
  const page = await harness.browser.newPage({ viewport: { width: 1280, height: 860 } });
  const query = new URLSearchParams({
    registry: options.registryUrl ?? harness.registryProxy.endpoint,
    sequence: options.sequenceUrl ?? harness.services.sequence.url,
  });
  await page.goto(`${options.origin ?? harness.site.url}/?${query}#/sign-in`);
  await page.getByLabel("Admin token").fill(options.token);
  await page.getByLabel("Admin token").press("Enter");
  await page.getByRole("heading", { name: "User lookup" }).waitFor();
  return page;
}

/** Saves what the page shows as <name>.png (see SCREENSHOTS). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // A steady picture: no blinking caret, no transition caught halfway.
  await page.screenshot({
    path: `${SCREENSHOTS}${name}.png`,
    fullPage: true,
    animations: "disabled",
    caret: "hide",
  });
}

/** The text of every row a locator matches, whitespace collapsed, for comparing with expected rows. */
export async function rowTexts(page: Page, selector: string): Promise<string[]> {
  const texts = await page.locator(selector).allInnerTexts();
  return texts.map((text) => text.replace(/\s+/g, " ").trim());
}
