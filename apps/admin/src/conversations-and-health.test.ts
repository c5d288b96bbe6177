// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's locator.innerText() is the rendered text meant here, not the DOM property.
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { accessibilityProblems } from "./testing/accessibility";
import {
  consoleHarnessForFile,
  rowTexts,
  SHOWN,
  screenshot,
  signIn,
  TOKENS,
} from "./testing/console-harness";

describe("the admin console's conversations and health views, in Chromium against both services", () => {
  const harness = consoleHarnessForFile();

  const group = (value: string) => ({ kind: { case: "groupId" as const, value } });
  const privateChat = (userA: string, userB: string) => ({
    kind: { case: "privateChat" as const, value: { userA, userB } },
  });

  it("shows a group's and a private chat's current number, and pages through snapshots by type", async () => {
    const rooms = Array.from({ length: 11 }, (_, i) => `room-${String(i + 1).padStart(2, "0")}`);
    await harness().numbers.batchNext({
      items: [
        { conversation: group("ops"), count: 5 },
        { conversation: privateChat("ann", "ben"), count: 3 },
        { conversation: privateChat("cy", "di"), count: 1 },
        { conversation: privateChat("ed", "fay"), count: 1 },
        ...rooms.map((room) => ({ conversation: group(room), count: 1 })),
      ],
    });
    const page = await signIn(harness(), { token: TOKENS.admin });
    await page.getByRole("link", { name: "Conversations" }).click();

    await page.getByLabel("Group id").fill("ops");
    await page.getByRole("button", { name: "Show current number" }).click();
    await expect.poll(() => answer(page), SHOWN).toBe("group ops is at 5 · Refresh");
    // A private chat is the same conversation whichever way round its users are given.
    await page.getByLabel("Private chat").check();
    await page.getByLabel("First user").fill("ben");
    await page.getByLabel("Second user").fill("ann");
    await page.getByLabel("Second user").press("Enter");
    await expect.poll(() => answer(page), SHOWN).toBe("private chat ben ↔ ann is at 3 · Refresh");
    await page.getByLabel("First user").fill("nobody");
    await page.getByRole("button", { name: "Show current number" }).click();
    await expect
      .poll(() => answer(page), SHOWN)
      .toBe("private chat nobody ↔ ann is at 0 (no number handed out yet) · Refresh");

    // 15 snapshots: 12 groups on two pages of 10, 3 private chats.
    await expect.poll(() => snapshotRows(page), SHOWN).toHaveLength(10);
    await page.getByLabel("Type").selectOption({ label: "Groups" });
    // Until the answer for the new filter arrives, the previous page stays on screen (marked as loading).
    await expect
      .poll(async () => (await snapshotRows(page)).map(typeOf), SHOWN)
      .toEqual(Array(10).fill("group"));
    const firstPage = await snapshotRows(page);
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.getByTestId("snapshots-page").innerText(), SHOWN).toBe("Page 2");
    await expect.poll(() => snapshotRows(page), SHOWN).toHaveLength(2);
    const secondPage = await snapshotRows(page);
    const names = [...firstPage, ...secondPage].map((row) => row.split(" ")[0]).sort();
    expect(names).toEqual(["ops", ...rooms].sort());
    expect(await page.getByRole("button", { name: "Next page" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => snapshotRows(page), SHOWN).toEqual(firstPage);

    await page.getByLabel("Type").selectOption({ label: "Private chats" });
    await expect
      .poll(async () => (await snapshotRows(page)).map(typeOf), SHOWN)
      .toEqual(Array(3).fill("private"));
    const chats = await snapshotRows(page);
    expect(chats.map((row) => row.split(" private ")[0]).sort()).toEqual([
      "ann ↔ ben",
      "cy ↔ di",
      "ed ↔ fay",
    ]);
    // The durable ceiling is never below a number handed out.
    const annAndBen = chats.find((row) => row.startsWith("ann ↔ ben"))!;
    expect(Number(/ private (\d+) /.exec(annAndBen)?.[1])).toBeGreaterThanOrEqual(3);
    await page.getByLabel("Type").selectOption({ label: "Groups" });
    await expect.poll(() => snapshotRows(page), SHOWN).toEqual(firstPage);
    await page.getByLabel("Group", { exact: true }).check();
    await page.getByLabel("Group id").fill("ops");
    await page.getByRole("button", { name: "Show current number" }).click();
    await expect.poll(() => answer(page), SHOWN).toBe("group ops is at 5 · Refresh");
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "conversations");
    await page.close();
  });

  it("shows each service ready, then the sequence service degraded while Redis is down, then ready again", async () => {
    const page = await signIn(harness(), { token: TOKENS.admin });
    await page.getByRole("link", { name: "Health" }).click();
    for (const service of ["registry", "sequence"]) {
      await expect.poll(() => verdict(page, service), SHOWN).toBe("Ready: every backend answers");
    }
    expect(await backends(page)).toEqual(["etcd: answering", "mysql: answering", "redis: answering"]);
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "health");

    await harness().services.redis.stop();
    await expect.poll(() => verdict(page, "sequence"), SHOWN).toBe("Ready, degraded: redis not answering");
    expect(await backends(page)).toEqual(["etcd: answering", "mysql: answering", "redis: not answering"]);
    expect(await verdict(page, "registry")).toBe("Ready: every backend answers");
    // Every view the README shows: labelled fields, readable contrast.
    expect(await accessibilityProblems(page)).toEqual([]);
    await screenshot(page, "health-degraded");

    await harness().services.redis.restart();
    await expect.poll(() => verdict(page, "sequence"), SHOWN).toBe("Ready: every backend answers");
    await page.close();
  });
});

const answer = (page: Page) => page.getByTestId("current-answer").innerText().then(collapse);
const snapshotRows = (page: Page) => rowTexts(page, "[data-testid=snapshot-row]");
const verdict = (page: Page, service: string) => page.getByTestId(`verdict-${service}`).innerText();
const backends = (page: Page) => rowTexts(page, "[data-testid^=backend-]");
const typeOf = (row: string) => / (group|private) \d+ /.exec(row)?.[1];
const collapse = (text: string) => text.replace(/\s+/g, " ").trim();
