// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's locator.innerText() is the rendered text meant here, not the DOM property.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { etcdJson } from "@im-core/testkit";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { accessibilityProblems } from "./testing/accessibility";
import {
  consoleHarnessForFile,
  REGISTRY_WATCH_BACKLOG,
  rowTexts,
  SHOWN,
  screenshot,
  signIn,
  TOKENS,
} from "./testing/console-harness";
import { formatUtc } from "./ui/format";

describe("the admin console's user lookup and live feed, in Chromium against both services", () => {
  const harness = consoleHarnessForFile();

  const status = (page: Page) => page.getByTestId("feed-status").innerText();
  const events = (page: Page) => rowTexts(page, "[data-testid=feed-event]");

  async function openFeed(page: Page, users: string): Promise<void> {
    await page.getByRole("link", { name: "Live feed" }).click();
    await page.getByLabel("Only these users").fill(users);
    await page.getByLabel("Only these users").press("Enter");
    // The status names the filter: the feed from before the filter was applied cannot pass for this one.
    await expect
      .poll(() => status(page), SHOWN)
      .toMatch(new RegExp(`^Live · ${users} · up to revision \\d+$`));
  }

  it("looks up many users: each device with its gateway, connected since, lease, and the revision", async () => {
    const { leaseId } = await harness().gateway.grantLease({ gatewayNode: "gw-1:9000" });
    const phone = await harness().gateway.register({
      userId: "alice",
      deviceId: "phone",
      gatewayNode: "gw-1:9000",
      leaseId,
    });
    const laptop = await harness().gateway.register({
      userId: "alice",
      deviceId: "laptop",
      gatewayNode: "gw-2:9000",
    });
    const tablet = await harness().gateway.register({
      userId: "bob",
      deviceId: "tablet",
      gatewayNode: "gw-1:9000",
      leaseId,
    });
    const { revision } = await harness().gateway.batchLookup({ userIds: [] });

    const page = await signIn(harness(), { token: TOKENS.admin });
    await page.getByLabel("User ids").fill("alice, bob carol");
    await page.getByLabel("User ids").press("Enter");

    await expect.poll(() => page.getByTestId("lookup-revision").innerText(), SHOWN).toBe(String(revision));
    const since = (at: typeof phone.connectedAt) => formatUtc(timestampDate(at!));
    const rows = await rowTexts(page, "tbody tr");
    expect(rows).toHaveLength(4);
    const [first, second] = rows.filter((row) => row.startsWith("alice ")).sort();
    expect(first).toMatch(
      new RegExp(`^alice laptop gw-2:9000 ${since(laptop.connectedAt)} \\(\\d+ s\\) ${laptop.leaseId}$`),
    );
    expect(second).toMatch(
      new RegExp(`^alice phone gw-1:9000 ${since(phone.connectedAt)} \\(\\d+ s\\) ${leaseId}$`),
    );
    expect(rows).toContainEqual(
      expect.stringMatching(new RegExp(`^bob tablet gw-1:9000 ${since(tablet.connectedAt)} .* ${leaseId}$`)),
    );
    expect(rows).toContain("carol offline: no device connected");
    await expect.poll(() => page.locator(".answer-meta").innerText()).toContain("3 devices online");
    // The address names the users: a link to this answer for an incident channel.
    expect(new URL(page.url()).hash).toBe("#/lookup?users=alice%2Cbob%2Ccarol");
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "lookup");
    await page.close();
  });

  it("follows devices live, counts them per second, and resumes after a disconnect and a pause without losing one", async () => {
    const page = await signIn(harness(), { token: TOKENS.admin });
    await openFeed(page, "dave, erin");
    expect(new URL(page.url()).hash).toBe("#/feed?users=dave%2Cerin");
    const { leaseId } = await harness().gateway.grantLease({ gatewayNode: "gw-1:9000" });
    const register = (userId: string, deviceId: string, gatewayNode = "gw-1:9000") =>
      harness().gateway.register({
        userId,
        deviceId,
        gatewayNode,
        leaseId: gatewayNode === "gw-1:9000" ? leaseId : 0n,
      });

    // One revision of four devices (frank is not watched): four PUTs in the same second.
    await harness().gateway.batchRegister({
      gatewayNode: "gw-1:9000",
      leaseId,
      devices: ["dave/phone", "dave/laptop", "erin/phone", "erin/laptop", "frank/phone"].map((id) => {
        const [userId, deviceId] = id.split("/") as [string, string];
        return { userId, deviceId };
      }),
    });
    await expect.poll(() => events(page), SHOWN).toHaveLength(4);
    await expect.poll(() => page.getByTestId("puts-total").innerText()).toBe("4");
    await expect
      .poll(() => page.locator(".counters div", { hasText: "PUT / s" }).innerText(), SHOWN)
      .toContain("peak 4");

    await register("dave", "phone", "gw-2:9000");
    await harness().gateway.unregister({ userId: "erin", deviceId: "laptop" });
    await expect.poll(() => events(page), SHOWN).toHaveLength(6);
    const [unregistered, takenOver] = await events(page);
    expect(unregistered).toMatch(new RegExp(`^\\d+ DELETE erin/laptop gw-1:9000 ${leaseId} unregistered`));
    expect(takenOver).toMatch(/^\d+ PUT dave\/phone gw-2:9000 \(was gw-1:9000\) \d+ taken over/);

    // A network outage between the browser and the registry: changes meanwhile come back from history.
    harness().registryProxy.cut();
    await expect.poll(() => status(page), SHOWN).toMatch(/^Disconnected: reconnecting…/);
    await expect
      .poll(() => page.getByRole("alert").innerText(), SHOWN)
      .toContain("Cannot reach the registry service");
    await register("erin", "tablet");
    await harness().gateway.unregister({ userId: "dave", deviceId: "laptop" });
    harness().registryProxy.restore();
    await expect
      .poll(() => page.getByLabel("Recovered gaps").innerText(), SHOWN)
      .toMatch(/^Reconnected after a disconnect of \d+ s: recovered 2 events from revisions \d+–\d+\.$/);
    await expect.poll(() => status(page), SHOWN).toMatch(/^Live/);
    const recovered = (await events(page)).filter((row) => row.endsWith("recovered"));
    expect(recovered).toEqual([
      expect.stringMatching(/ DELETE dave\/laptop .* unregistered .* recovered$/),
      expect.stringMatching(/ PUT erin\/tablet /),
    ]);

    // Paused, nothing is shown; resumed, what happened meanwhile is delivered, marked as recovered.
    await page.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => status(page)).toMatch(/^Paused/);
    await register("erin", "watch");
    await register("frank", "laptop");
    await page.getByRole("button", { name: "Resume" }).click();
    await expect
      .poll(() => page.getByLabel("Recovered gaps").locator("li").first().innerText(), SHOWN)
      .toMatch(/^Resumed after a pause of \d+ s: recovered 1 event from revisions \d+–\d+\.$/);
    await expect.poll(() => events(page), SHOWN).toHaveLength(9);
    expect((await events(page))[0]).toMatch(/^\d+ PUT erin\/watch .* recovered$/);
    expect(await page.getByTestId("puts-total").innerText()).toBe("7");
    expect(await page.getByTestId("deletes-total").innerText()).toBe("2");
    expect((await events(page)).filter((row) => row.includes("frank"))).toEqual([]);
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "feed");
    await page.close();
  });

  it("says so when a resume asks for a revision etcd has compacted away, and starts again from now", async () => {
    const page = await signIn(harness(), { token: TOKENS.admin });
    await openFeed(page, "gina");
    await page.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => status(page)).toMatch(/^Paused/);
    // A change the feed missed, then more than the registry keeps in memory (served from etcd then), then
    // a compaction of etcd's history past the missed change.
    await harness().gateway.register({ userId: "gina", deviceId: "phone", gatewayNode: "gw-3:9000" });
    const { leaseId } = await harness().gateway.grantLease({ gatewayNode: "gw-3:9000" });
    const { revision } = await harness().gateway.batchRegister({
      gatewayNode: "gw-3:9000",
      leaseId,
      devices: Array.from({ length: REGISTRY_WATCH_BACKLOG + 1 }, (_, i) => ({
        userId: `crowd-${i}`,
        deviceId: "phone",
      })),
    });
    await etcdJson(harness().services.etcd.endpoints[0]!, "/v3/kv/compaction", {
      revision: String(revision),
      physical: true,
    });

    await page.getByRole("button", { name: "Resume" }).click();
    await expect
      .poll(() => status(page), SHOWN)
      .toBe(`Stopped · gina · up to revision ${await lastSeen(page)}`);
    const alert = await page.getByRole("alert").innerText();
    expect(alert).toContain("The requested revision is no longer available");
    expect(alert).toContain("Look the users up again");
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "feed-out-of-range");

    expect(await page.getByRole("link", { name: "Look these users up" }).getAttribute("href")).toBe(
      "#/lookup?users=gina",
    );
    await page.getByRole("button", { name: "Start a new feed from now" }).click();
    await expect.poll(() => status(page), SHOWN).toMatch(/^Live · gina · up to revision \d+$/);
    await harness().gateway.unregister({ userId: "gina", deviceId: "phone" });
    await expect.poll(() => events(page), SHOWN).toEqual([expect.stringMatching(/ DELETE gina\/phone /)]);
    await page.close();
  });
});

/** The revision the status line says the feed reached. */
async function lastSeen(page: Page): Promise<string> {
  return /up to revision (\d+)/.exec(await page.getByTestId("feed-status").innerText())?.[1] ?? "?";
}
