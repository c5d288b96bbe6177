import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { cleanEnv } from "@im-core/testkit";
import { expect, inject, test } from "vitest";
import { run } from "./testing/process.js";

// What a gateway author writes after installing @im-core/gateway-kit and the Connect packages.
const gatewayScript = `
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BatchingSequenceClient, GatewaySession, group } from "@im-core/gateway-kit";
import { DeviceMirror } from "@im-core/gateway-kit/router";

const [registryUrl, sequenceUrl, id] = process.argv.slice(2);
const session = await GatewaySession.open({
  registry: createGrpcTransport({ baseUrl: registryUrl }),
  gatewayNode: "gw-kit-packed:9000",
  ttlSeconds: 30,
});
await session.register(id, "phone");
const sequence = new BatchingSequenceClient(createGrpcTransport({ baseUrl: sequenceUrl }));
const ranges = await Promise.all([1, 2].map((count) => sequence.next(group(id), count)));
await sequence.close();
const leaseRenewedEveryMs = session.renewIntervalMs;
await session.close();
console.log(JSON.stringify({
  leaseRenewedEveryMs,
  ranges: ranges.map((r) => \`\${r.first}-\${r.last}\`),
  mirror: typeof DeviceMirror,
}));
`;

// Compiled against the installed .d.ts files only, as a strict consumer would.
const typedGateway = `
import type { Transport } from "@connectrpc/connect";
import { BatchingSequenceClient, type DropEvent, GatewaySession, group, type SequenceRange } from "@im-core/gateway-kit";
import { DeviceMirror } from "@im-core/gateway-kit/router";

export async function start(registry: Transport, sequence: Transport): Promise<SequenceRange> {
  const session: GatewaySession = await GatewaySession.open({ registry, gatewayNode: "gw:1" });
  session.on("drop", (event: DropEvent) => event.reason);
  const mirror: typeof DeviceMirror = DeviceMirror;
  void mirror;
  return new BatchingSequenceClient(sequence).next(group("g"), 2);
}
`;

test("packages/gateway-kit packs with its workspace dependencies into tarballs a separate npm project installs and runs a gateway with", async () => {
  const project = join(inject("scratch"), "gateway-kit-project");
  mkdirSync(project, { recursive: true });
  for (const dir of ["packages/common", "packages/proto", "packages/stores", "packages/gateway-kit"]) {
    await run("pnpm", ["--dir", dir, "pack", "--pack-destination", project]);
  }
  const tarballs = readdirSync(project).filter((name) => name.endsWith(".tgz"));
  expect(tarballs).toHaveLength(4);
  const manifest = JSON.parse(
    (await run("tar", ["-xzOf", join(project, "im-core-gateway-kit-0.1.0.tgz"), "package/package.json"]))
      .stdout,
  ) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  expect(JSON.stringify(manifest.dependencies)).not.toContain("workspace:");
  expect(manifest.peerDependencies).toMatchObject({ "@connectrpc/connect": "2.1.2" });

  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "kit-example", private: true, type: "module" }),
  );
  await run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      ...tarballs.map((name) => `./${name}`),
      "@bufbuild/protobuf@2.13.0",
      "@connectrpc/connect@2.1.2",
      "@connectrpc/connect-node@2.1.2",
    ],
    { cwd: project, env: cleanEnv(), timeoutMs: 110_000 },
  );

  writeFileSync(join(project, "gateway.mjs"), gatewayScript);
  const id = `kit-packed-${Date.now()}`;
  const { stdout } = await run(
    process.execPath,
    ["gateway.mjs", inject("registryUrl"), inject("sequenceUrl"), id],
    { cwd: project, env: cleanEnv(), timeoutMs: 30_000 },
  );
  expect(JSON.parse(stdout)).toEqual({
    leaseRenewedEveryMs: 10_000,
    ranges: ["1-1", "2-3"],
    mirror: "function",
  });

  writeFileSync(join(project, "gateway.ts"), typedGateway);
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
        skipLibCheck: true,
      },
      files: ["gateway.ts"],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, env: cleanEnv() });
});
