import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { httpGet } from "@im-core/testkit";
import { loadAll } from "js-yaml";
import { describe, expect, inject, test } from "vitest";
import { connectJson } from "./testing/outcome.js";
import { REPO, startBundle } from "./testing/process.js";

const K8S = join(REPO, "infra/k8s");

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };

function manifests(): Map<string, Manifest[]> {
  const files = readdirSync(K8S).filter((name) => name.endsWith(".yaml"));
  return new Map(files.map((file) => [file, loadAll(readFileSync(join(K8S, file), "utf8")) as Manifest[]]));
}

function find(kind: string, name: string): Manifest {
  const found = [...manifests().values()].flat().filter((m) => m.kind === kind && m.metadata?.name === name);
  expect(found, `${kind}/${name}`).toHaveLength(1);
  return found[0]!;
}

/** Environment variable names the service reads: its own config, the shared server settings, the logger. */
function knownVariables(app: string): Set<string> {
  const sources = [
    `apps/${app}/src/config.ts`,
    "packages/service-kit/src/settings.ts",
    "packages/service-kit/src/logger.ts",
  ].map((file) => readFileSync(join(REPO, file), "utf8"));
  return new Set(
    sources.flatMap((text) => text.match(/\b(?:HOST|PORT|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g) ?? []),
  );
}

const apps = [
  { app: "registry", port: 8081 },
  { app: "sequence", port: 8082 },
] as const;

test("every manifest in infra/k8s is valid YAML with apiVersion, kind and name, and kustomization lists them all", () => {
  const all = manifests();
  const kustomization = all.get("kustomization.yaml")![0]!;
  expect(kustomization.kind).toBe("Kustomization");
  const listed = new Set<string>(kustomization.resources);
  for (const [file, docs] of all) {
    if (file === "kustomization.yaml") continue;
    expect(listed.has(file), `${file} is not in kustomization.yaml`).toBe(true);
    for (const doc of docs) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      expect(doc.metadata?.name, file).toBeTruthy();
    }
  }
  for (const file of listed) expect(all.has(file), `kustomization lists missing ${file}`).toBe(true);
});

describe.each(apps)("the $app deployment", ({ app, port }) => {
  test("Deployment, Service and ConfigMap agree with each other, the Dockerfile and the service's settings", () => {
    const deployment = find("Deployment", app);
    const service = find("Service", app);
    const config = find("ConfigMap", `${app}-config`);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];

    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.selector.matchLabels).toEqual(service.spec.selector);
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);

    expect(container.ports).toEqual([{ name: "grpc", containerPort: port, protocol: "TCP" }]);
    expect(Number(config.data.PORT)).toBe(port);
    expect(config.data.HOST).toBe("0.0.0.0");
    expect(service.spec.ports).toEqual([
      expect.objectContaining({ name: "grpc", port, targetPort: "grpc", appProtocol: "kubernetes.io/h2c" }),
    ]);

    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "grpc" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "grpc" });
    // The delay, then the drain, which close-with-grace cuts off 5 s after SHUTDOWN_GRACE_MS.
    expect(Number(config.data.SHUTDOWN_DELAY_MS)).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1_000).toBeGreaterThanOrEqual(
      Number(config.data.SHUTDOWN_DELAY_MS) + Number(config.data.SHUTDOWN_GRACE_MS) + 5_000,
    );
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });

    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number) });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });

    expect(container.envFrom).toEqual([{ configMapRef: { name: `${app}-config` } }]);
    const known = knownVariables(app);
    for (const name of Object.keys(config.data)) expect(known, `${name} is read by no code`).toContain(name);
    for (const { name } of container.env ?? []) {
      if (name !== "NODE_OPTIONS") expect(known, `${name} is read by no code`).toContain(name);
    }

    // AUTH_TOKENS_FILE names the file the Secret volume puts there.
    const tokensFile: string = config.data.AUTH_TOKENS_FILE;
    const mount = container.volumeMounts.find(
      (m: { mountPath: string }) => m.mountPath === dirname(tokensFile),
    );
    expect(mount, `nothing mounted at ${dirname(tokensFile)}`).toBeDefined();
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.secret.items).toContainEqual(expect.objectContaining({ path: basename(tokensFile) }));

    const dockerfile = readFileSync(join(REPO, `apps/${app}/Dockerfile`), "utf8");
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    // One ARG picks the Node of both stages (the line to change when the images move to another Node),
    // a major that engines.node admits.
    const nodeMajor = Number(/^ARG NODE_MAJOR=(\d+)$/m.exec(dockerfile)?.[1]);
    expect(nodeMajor).toBeGreaterThanOrEqual(20);
    expect(dockerfile).toMatch(/\nFROM node:\$\{NODE_MAJOR\}-bookworm-slim AS builder\n/);
    expect(runtime).toMatch(/^\nFROM node:\$\{NODE_MAJOR\}-bookworm-slim\n/);
    expect(runtime).toContain(`EXPOSE ${port}\n`);
    expect(runtime).toContain('CMD ["node", "dist/main.js"]');
    expect(runtime).toContain(`USER ${pod.securityContext.runAsUser}:`);
    expect(dockerfile).toContain(`RUN bash scripts/bundle ${app} /bundle`);
    expect(container.image).toBe(`im-core/${app}`);
  });

  test("the ConfigMap's settings and a token file like the mounted Secret start the bundled service: probes open, RPCs need a token, SIGTERM drains", async () => {
    const config = find("ConfigMap", `${app}-config`);
    const tokensFile = join(inject("scratch"), `${app}-tokens`);
    const token = `router-${randomUUID()}`;
    writeFileSync(tokensFile, `# as in the im-core-auth Secret\n${token} router\n`, { mode: 0o600 });
    // Only what points at this cluster changes: backends, the mount path, and the listening address,
    // which the kit sets (127.0.0.1, a free port).
    const env: Record<string, string> = {
      ...config.data,
      AUTH_TOKENS_FILE: tokensFile,
      ...(app === "registry"
        ? { ETCD_ENDPOINTS: inject("etcdEndpoints") }
        : { REDIS_URL: inject("redisUrl"), MYSQL_URL: inject("mysqlUrl") }),
    };
    const service = await startBundle(inject(app === "registry" ? "registryBundle" : "sequenceBundle"), env);
    try {
      // The kubelet's probes carry no token.
      expect((await httpGet(`${service.url}/healthz`, { timeoutMs: 2_000 })).status).toBe(200);
      expect((await httpGet(`${service.url}/readyz`, { timeoutMs: 2_000 })).status).toBe(200);
      // A fresh user is offline and a fresh conversation is at 0: proto3 JSON leaves both out.
      const [procedure, request, empty] =
        app === "registry"
          ? ["im.registry.v1.RegistryService/Lookup", { userId: `k8s-${randomUUID()}` }, "devices"]
          : [
              "im.sequence.v1.SequenceService/Current",
              { conversation: { groupId: `k8s-${randomUUID()}` } },
              "sequence",
            ];
      expect(await connectJson(service.url, procedure, request)).toMatchObject({
        ok: false,
        code: "unauthenticated",
      });
      expect(
        await connectJson(service.url, procedure, request, { authorization: "Bearer not-a-known-token" }),
      ).toMatchObject({ ok: false, code: "unauthenticated" });
      const answer = await connectJson<Record<string, unknown>>(service.url, procedure, request, {
        authorization: `Bearer ${token}`,
      });
      if (!answer.ok)
        throw new Error(`${procedure} with the mounted token failed: ${answer.code}: ${answer.message}`);
      expect(answer.message[empty]).toBeUndefined();
    } finally {
      await service.stop();
      const output = service.output();
      await service.dispose();
      expect(service.exitCode, output).toBe(0);
    }
  });
});

test("the admin console's Deployment, Service, Dockerfile and nginx.conf agree: one port, a /healthz nginx answers, non-root, read-only", () => {
  const deployment = find("Deployment", "admin");
  const service = find("Service", "admin");
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const dockerfile = readFileSync(join(REPO, "apps/admin/Dockerfile"), "utf8");
  const nginx = readFileSync(join(REPO, "apps/admin/nginx.conf"), "utf8");

  expect(deployment.spec.selector.matchLabels).toEqual(service.spec.selector);
  expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  expect(container.image).toBe("im-core/admin");
  expect(container.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
  expect(service.spec.ports).toEqual([expect.objectContaining({ targetPort: "http" })]);
  expect(dockerfile).toContain("EXPOSE 8080\n");
  expect(nginx).toMatch(/^\s*listen 8080;$/m);
  // The probes ask what nginx answers itself.
  expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
  expect(container.readinessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
  expect(nginx).toContain("location = /healthz {");
  // The image's user is the pod's; the root filesystem is read-only with /tmp (nginx's temp files) writable.
  expect(dockerfile).toContain(`USER ${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}\n`);
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  expect(container.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
  });
  expect(container.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
  // The image serves what Vite builds.
  expect(dockerfile).toContain("COPY --from=builder /repo/apps/admin/dist /usr/share/nginx/html");
  expect(readFileSync(join(REPO, "apps/admin/package.json"), "utf8")).toContain(
    '"build": "rm -rf dist && vite build"',
  );
});
