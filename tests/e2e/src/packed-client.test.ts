import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { cleanEnv } from "@im-core/testkit";
import { expect, inject, test } from "vitest";
import { run } from "./testing/process.js";

// What a gateway author writes after `npm i @im-core/proto @bufbuild/protobuf @connectrpc/connect @connectrpc/connect-node`.
const clientScript = `
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService, SequenceService } from "@im-core/proto";
import { RegistryService as RegistryFromSubpath } from "@im-core/proto/registry/v1";
import { NextRequestSchema, SequenceService as SequenceFromSubpath } from "@im-core/proto/sequence/v1";

const [registryUrl, sequenceUrl, id] = process.argv.slice(2);
const registry = createClient(RegistryService, createGrpcTransport({ baseUrl: registryUrl }));
const sequence = createClient(SequenceService, createGrpcTransport({ baseUrl: sequenceUrl }));

async function attempt(call) {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    const e = ConnectError.from(error);
    return { ok: false, code: Code[e.code], message: e.rawMessage };
  }
}

const out = {
  subpaths: RegistryFromSubpath === RegistryService && SequenceFromSubpath === SequenceService,
  // The package's descriptors work with the consumer's own copy of the protobuf runtime (the peer).
  roundTrip: fromBinary(NextRequestSchema, toBinary(NextRequestSchema, create(NextRequestSchema, { count: 7 }))).count,
  register: await attempt(async () => {
    const r = await registry.register({ userId: id, deviceId: "tablet", gatewayNode: "gw-packed:9000" });
    return { leaseId: String(r.leaseId) };
  }),
  lookup: await attempt(async () =>
    (await registry.lookup({ userId: id })).devices.map((d) => ({ deviceId: d.deviceId, gatewayNode: d.gatewayNode })),
  ),
  next: await attempt(async () => {
    const r = await sequence.next({ conversation: { kind: { case: "groupId", value: id } }, count: 5 });
    return { first: String(r.first), last: String(r.last) };
  }),
};
console.log(JSON.stringify(out));
`;

// Compiled against the installed .d.ts files only, with the settings a strict consumer uses.
const typedClient = `
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { RegistryService, SequenceService, type DeviceLocation } from "@im-core/proto";
import type { NextResponse } from "@im-core/proto/sequence/v1";

export async function route(transport: Transport, userId: string): Promise<string[]> {
  const registry: Client<typeof RegistryService> = createClient(RegistryService, transport);
  const sequence: Client<typeof SequenceService> = createClient(SequenceService, transport);
  const devices: DeviceLocation[] = (await registry.lookup({ userId })).devices;
  const range: NextResponse = await sequence.next({ conversation: { kind: { case: "groupId", value: "g" } } });
  const last: bigint = range.last;
  return devices.map((device) => \`\${device.gatewayNode}#\${last}\`);
}
`;

test("packages/proto packs into a tarball that a separate npm project installs and calls both services with", async () => {
  const project = join(inject("scratch"), "client-project");
  mkdirSync(project, { recursive: true });

  await run("pnpm", ["--dir", "packages/proto", "pack", "--pack-destination", project]);
  const tarball = readdirSync(project).find((name) => name.endsWith(".tgz"));
  expect(tarball).toBeDefined();

  const listing = (await run("tar", ["-tzf", join(project, tarball!)])).stdout.split("\n");
  const manifest = JSON.parse(
    (await run("tar", ["-xzOf", join(project, tarball!), "package/package.json"])).stdout,
  ) as {
    exports: Record<string, { types: string; default: string }>;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    for (const file of [target.types, target.default]) {
      expect(listing, `export ${subpath} -> ${file} is not in the tarball`).toContain(
        `package/${file.slice(2)}`,
      );
    }
  }
  // The runtime is a peer: the consumer installs the one copy its own messages and the descriptors share.
  expect(manifest.peerDependencies?.["@bufbuild/protobuf"]).toBe("^2.13.0");
  expect(manifest.dependencies?.["@bufbuild/protobuf"]).toBeUndefined();
  expect(JSON.stringify(manifest)).not.toContain("workspace:");
  // The .proto sources ship too, for clients in other languages and for buf curl.
  expect(listing).toContain("package/proto/im/registry/v1/registry.proto");
  expect(listing.filter((path) => path.startsWith("package/src/"))).toEqual([]);

  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "gateway-example", private: true, type: "module" }, null, 2),
  );
  // A clean environment: pnpm's npm_config_* would otherwise steer npm (engine-strict, store paths).
  await run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `./${tarball}`,
      "@bufbuild/protobuf@2.13.0",
      "@connectrpc/connect@2.1.2",
      "@connectrpc/connect-node@2.1.2",
    ],
    { cwd: project, env: cleanEnv(), timeoutMs: 110_000 },
  );

  // One copy of the runtime, the consumer's: none nested below @im-core/proto.
  expect(existsSync(join(project, "node_modules/@bufbuild/protobuf/package.json"))).toBe(true);
  expect(existsSync(join(project, "node_modules/@im-core/proto/node_modules/@bufbuild/protobuf"))).toBe(
    false,
  );

  writeFileSync(join(project, "client.mjs"), clientScript);
  const id = `packed-${Date.now()}`;
  const { stdout } = await run(
    process.execPath,
    ["client.mjs", inject("registryUrl"), inject("sequenceUrl"), id],
    { cwd: project, env: cleanEnv(), timeoutMs: 30_000 },
  );
  type Attempt<T> = { ok: true; value: T } | { ok: false; code: string; message: string };
  const out = JSON.parse(stdout) as {
    subpaths: boolean;
    roundTrip: number;
    register: Attempt<{ leaseId: string }>;
    lookup: Attempt<{ deviceId: string; gatewayNode: string }[]>;
    next: Attempt<{ first: string; last: string }>;
  };
  expect(out.subpaths).toBe(true);
  expect(out.roundTrip).toBe(7);
  // Every call succeeds; on a failure toEqual shows the code and message the client got.
  expect(out.register).toEqual({ ok: true, value: { leaseId: expect.stringMatching(/^[1-9]\d*$/) } });
  expect(out.lookup).toEqual({ ok: true, value: [{ deviceId: "tablet", gatewayNode: "gw-packed:9000" }] });
  expect(out.next).toEqual({ ok: true, value: { first: "1", last: "5" } });

  writeFileSync(join(project, "route.ts"), typedClient);
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        lib: ["es2022", "dom"],
        strict: true,
        noEmit: true,
        types: [],
        // connect-node's own declarations need @types/node, which this consumer does not install.
        skipLibCheck: true,
      },
      files: ["route.ts"],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, env: cleanEnv() });
});
