// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's locator.innerText() is the rendered text meant here, not the DOM property.
import { freePorts } from "@im-core/testkit";
import { describe, expect, it } from "vitest";
import { accessibilityProblems } from "./testing/accessibility";
import { consoleHarnessForFile, SHOWN, screenshot, signIn, TOKENS } from "./testing/console-harness";

describe("the admin console's refusals and keyboard use, in Chromium against both services", () => {
  const harness = consoleHarnessForFile();

  it("says a wrong token was refused, and offers to sign in again", async () => {
    const page = await signIn(harness(), { token: "not-a-token-anyone-issued" });
    await page.getByLabel("User ids").fill("alice");
    await page.getByLabel("User ids").press("Enter");
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.getAttribute("data-kind"), SHOWN).toBe("unauthenticated");
    expect(await alert.innerText()).toContain(
      `The token was refused by the registry service (${harness().registryProxy.endpoint})`,
    );
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "error-wrong-token");
    await page.getByRole("link", { name: "Sign in again" }).click();
    await page.getByLabel("Admin token").waitFor();
    await page.close();
  });

  it("says a token without the admin role is not allowed what only admins may do", async () => {
    const page = await signIn(harness(), { token: TOKENS.router });
    await page.getByRole("link", { name: "Conversations" }).click();
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.getAttribute("data-kind"), SHOWN).toBe("permission");
    expect(await alert.innerText()).toContain("Permission denied by the sequence service");
    await page.close();
  });

  it("says a service cannot be reached, while the other one still answers", async () => {
    const [closedPort] = await freePorts(1);
    const unreachable = `http://127.0.0.1:${closedPort}`;
    const page = await signIn(harness(), { token: TOKENS.admin, sequenceUrl: unreachable });
    await page.getByRole("link", { name: "Health" }).click();
    const sequenceCard = page.getByTestId("health-sequence");
    await expect
      .poll(() => sequenceCard.getByRole("alert").getAttribute("data-kind"), SHOWN)
      .toBe("unreachable");
    expect(await sequenceCard.getByRole("alert").innerText()).toContain(
      `Cannot reach the sequence service (${unreachable})`,
    );
    await expect
      .poll(() => page.getByTestId("verdict-registry").innerText(), SHOWN)
      .toBe("Ready: every backend answers");
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "error-unreachable");
    await page.close();
  });

  it("is refused by both services when served from an origin that is not on their allowlist", async () => {
    const page = await signIn(harness(), { token: TOKENS.admin, origin: harness().foreignSite.url });
    const blocked: string[] = [];
    page.on("console", (message) => {
      if (message.text().includes("blocked by CORS policy")) blocked.push(message.text());
    });
    await page.getByLabel("User ids").fill("alice");
    await page.getByLabel("User ids").press("Enter");
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.getAttribute("data-kind"), SHOWN).toBe("unreachable");
    expect(await alert.innerText()).toContain(
      `does not allow this console's origin (${harness().foreignSite.url})`,
    );
    // The browser, not the network, refused: the service answered without allowing this origin.
    await expect.poll(() => blocked.length, SHOWN).toBeGreaterThan(0);
    await page.getByRole("link", { name: "Conversations" }).click();
    await expect
      .poll(() => page.getByRole("alert").first().getAttribute("data-kind"), SHOWN)
      .toBe("unreachable");
    await page.close();
  });

  it("works from the keyboard alone: sign in, skip to content, move between views", async () => {
    const page = await harness().browser.newPage({ viewport: { width: 1280, height: 860 } });
    const query = new URLSearchParams({
      registry: harness().registryProxy.endpoint,
      sequence: harness().services.sequence.url,
    });
    await page.goto(`${harness().site.url}/?${query}#/sign-in`);
    await page.getByRole("button", { name: "Sign in" }).waitFor(SHOWN);
    await page.keyboard.press("Tab");
    expect(await focusedLabel(page)).toBe("Admin token");
    await page.keyboard.type(TOKENS.admin);
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "sign-in");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "User lookup" }).waitFor(SHOWN);
    // The token is this tab's only: in sessionStorage, not in localStorage (which keeps only the URLs).
    expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(TOKENS.admin);
    const remembered = JSON.stringify(await page.evaluate(() => ({ ...localStorage })));
    expect(remembered).not.toContain(TOKENS.admin);
    expect(remembered).toContain(harness().registryProxy.endpoint);

    await page.keyboard.press("Tab");
    expect(await focusedText(page)).toBe("Skip to content");
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe(
      "none",
    );
    for (const view of ["User lookup", "Live feed", "Conversations", "Health"]) {
      await page.keyboard.press("Tab");
      expect(await focusedText(page)).toBe(view);
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Health", level: 2 }).waitFor(SHOWN);
    expect(await page.getByRole("link", { name: "Health" }).getAttribute("aria-current")).toBe("page");
    // Focus is visible wherever it goes.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe(
      "none",
    );
    await page.close();
  });
});

const focusedText = (page: import("playwright-core").Page) =>
  page.evaluate(() => (document.activeElement as HTMLElement | null)?.innerText.trim());
const focusedLabel = (page: import("playwright-core").Page) =>
  page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.labels?.[0]?.innerText.trim());
