import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join, relative } from "node:path";
import { cleanEnv, httpGet } from "@im-core/testkit";
import { describe, expect, inject, test } from "vitest";
import { type ConnectAnswer, connectJson } from "./testing/outcome.js";
import { REPO } from "./testing/process.js";

const apps = ["registry", "sequence"] as const;
const bundleOf = (app: (typeof apps)[number]) =>
  inject(app === "registry" ? "registryBundle" : "sequenceBundle");

/** Every path below `dir`, links reported as links (not followed). */
function walk(dir: string, out: { links: string[]; files: string[] } = { links: [], files: [] }) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) out.links.push(path);
    else if (entry.isDirectory()) walk(path, out);
    else out.files.push(path);
  }
  return out;
}

const inside = (root: string, path: string) => !relative(root, path).startsWith("..");

/** The message of a call that must succeed; an error answer fails the test with its code and message. */
function answered<T>(procedure: string, answer: ConnectAnswer<T>): T {
  if (!answer.ok) throw new Error(`${procedure} failed: ${answer.code}: ${answer.message}`);
  return answer.message;
}

/** The store subpath each service imports. */
const storeOf = { registry: "etcd", sequence: "mysql" } as const;

describe.each(apps)("the %s bundle", (app) => {
  test("holds only production dependencies, and every link stays inside it", () => {
    const bundle = bundleOf(app);
    expect(inside(REPO, bundle)).toBe(false);
    const { links } = walk(bundle);
    for (const link of links) {
      // realpathSync throws on a dangling link, which is just as fatal on the target machine.
      expect(inside(bundle, realpathSync(link)), `${link} resolves outside the bundle`).toBe(true);
    }

    const store = readdirSync(join(bundle, "node_modules/.pnpm"));
    for (const devOnly of ["vitest", "typescript", "tsx", "fast-check", "@im-core+testkit", "drizzle-kit"]) {
      expect(store.filter((name) => name.startsWith(`${devOnly}@`))).toEqual([]);
    }
    // Each with the entry point the service imports from it.
    const entries = {
      common: "index",
      proto: "index",
      "service-kit": "index",
      stores: `${storeOf[app]}/index`,
    };
    for (const [pkg, entry] of Object.entries(entries)) {
      const dir = realpathSync(join(bundle, "node_modules/@im-core", pkg));
      expect(inside(bundle, dir)).toBe(true);
      // Built output only: `files` in each workspace package keeps sources and test helpers out.
      expect(existsSync(join(dir, `dist/${entry}.js`)), `${pkg} has no dist/${entry}.js`).toBe(true);
      expect(existsSync(join(dir, "src")), `${pkg} ships its src`).toBe(false);
    }
    expect(existsSync(join(bundle, "dist/main.js"))).toBe(true);
    expect(existsSync(join(bundle, "src"))).toBe(false);
  });
});

test("the sequence bundle carries the Lua script and every SQL migration the service reads at run time", () => {
  const stores = realpathSync(join(inject("sequenceBundle"), "node_modules/@im-core/stores"));
  const sourceScripts = readdirSync(join(REPO, "packages/stores/src/redis")).filter((f) =>
    f.endsWith(".lua"),
  );
  expect(sourceScripts.length).toBeGreaterThan(0);
  for (const script of sourceScripts) {
    expect(existsSync(join(stores, "dist/redis", script)), `dist/redis/${script} missing`).toBe(true);
  }
  const journal = JSON.parse(readFileSync(join(stores, "drizzle/meta/_journal.json"), "utf8")) as {
    entries: { tag: string }[];
  };
  expect(journal.entries.length).toBeGreaterThan(0);
  for (const { tag } of journal.entries) {
    expect(existsSync(join(stores, "drizzle", `${tag}.sql`)), `drizzle/${tag}.sql missing`).toBe(true);
  }
});

test.each([
  ["registry", "registryUrl"],
  ["sequence", "sequenceUrl"],
] as const)("the bundled %s answers /healthz and, with its backends up, /readyz", async (_app, key) => {
  const url = inject(key);
  expect((await httpGet(`${url}/healthz`, { timeoutMs: 2_000 })).status).toBe(200);
  expect((await httpGet(`${url}/readyz`, { timeoutMs: 2_000 })).status).toBe(200);
});

test("the bundled registry registers a device and finds it (Connect JSON over HTTP/1.1)", async () => {
  const url = inject("registryUrl");
  const userId = `bundle-${randomUUID()}`;
  type Lookup = { devices?: { userId: string; deviceId: string; gatewayNode: string; leaseId: string }[] };
  const lookup = "im.registry.v1.RegistryService/Lookup";
  // An unknown user is offline: proto3 JSON leaves the empty list out.
  expect(answered(lookup, await connectJson<Lookup>(url, lookup, { userId })).devices ?? []).toEqual([]);
  const register = "im.registry.v1.RegistryService/Register";
  const registered = answered(
    register,
    await connectJson<{ leaseId?: string; ttlSeconds?: number }>(url, register, {
      userId,
      deviceId: "phone",
      gatewayNode: "gw-bundle:9000",
    }),
  );
  expect(BigInt(registered.leaseId ?? "0")).toBeGreaterThan(0n);
  expect(registered.ttlSeconds ?? 0).toBeGreaterThan(0);
  expect(answered(lookup, await connectJson<Lookup>(url, lookup, { userId })).devices).toEqual([
    expect.objectContaining({
      userId,
      deviceId: "phone",
      gatewayNode: "gw-bundle:9000",
      leaseId: registered.leaseId,
    }),
  ]);
});

test("the bundled sequence service hands out increasing numbers (Connect JSON over HTTP/1.1)", async () => {
  const url = inject("sequenceUrl");
  const conversation = { groupId: `bundle-${randomUUID()}` };
  const next = "im.sequence.v1.SequenceService/Next";
  type Range = { first: string; last: string };
  const first = answered(next, await connectJson<Range>(url, next, { conversation, count: 3 }));
  // A new conversation starts at 1; int64 travels as a JSON string.
  expect(first).toEqual({ first: "1", last: "3" });
  const second = answered(next, await connectJson<Range>(url, next, { conversation }));
  expect(BigInt(second.first)).toBeGreaterThan(3n);
  expect(second.last).toBe(second.first);
});

test("a bad setting stops the bundled service at start-up with a message that names it", () => {
  const result = spawnSync(process.execPath, ["dist/main.js"], {
    cwd: inject("sequenceBundle"),
    env: cleanEnv({ AUTH_DISABLED: "true", PORT: "not-a-port" }),
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain("PORT");
});
