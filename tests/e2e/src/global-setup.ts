import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { type ServiceProcess, startEtcd, startMariaDb, startRedis } from "@im-core/testkit";
import type { TestProject } from "vitest/node";
import { REPO, run, startBundle } from "./testing/process.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Scratch folder outside the repository, removed after the run. */
    scratch: string;
    /** The bundles as an operator would have them after copying them to another machine. */
    registryBundle: string;
    sequenceBundle: string;
    registryUrl: string;
    sequenceUrl: string;
    /** Backends, for tests that start one more instance of a service. */
    etcdEndpoints: string;
    redisUrl: string;
    mysqlUrl: string;
  }
}

/**
 * One stack for every test file (the machine has two cores): both services built into bundles with
 * scripts/bundle, the bundles copied to a folder outside the repository, started there with plain node
 * against private etcd, Redis and MariaDB servers. turbo's `^build` has built the apps before this runs.
 */
export default async function setup(project: TestProject) {
  const scratch = mkdtempSync(join(tmpdir(), "im-e2e-"));
  if (!relative(REPO, scratch).startsWith("..")) throw new Error(`${scratch} is inside ${REPO}; set TMPDIR`);
  const cleanups: (() => Promise<unknown>)[] = [
    async () => rmSync(scratch, { recursive: true, force: true }),
  ];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };

  try {
    const bundles: Record<string, string> = {};
    for (const app of ["registry", "sequence"]) {
      const built = join(scratch, "build", app);
      await run("bash", ["scripts/bundle", app, built, "--skip-build"]);
      // Moved away from where it was built, as an operator ships it (docker COPY, scp): anything that
      // still pointed at the build folder would fail to load. A move rather than a copy because
      // copying 20k small files costs ~20 s here and proves nothing more (bundle.test.ts checks links).
      bundles[app] = join(scratch, "machine", app);
      mkdirSync(dirname(bundles[app]), { recursive: true });
      renameSync(built, bundles[app]);
    }

    const [etcd, redis, mariadb] = await Promise.all([startEtcd(), startRedis(), startMariaDb()]);
    cleanups.push(
      () => etcd.dispose(),
      () => redis.dispose(),
      () => mariadb.dispose(),
    );
    const mysqlUrl = await mariadb.createDatabase("im_e2e");

    const services: ServiceProcess[] = await Promise.all([
      startBundle(bundles.registry!, {
        AUTH_DISABLED: "true",
        ETCD_ENDPOINTS: etcd.endpoints.join(","),
      }),
      startBundle(bundles.sequence!, {
        AUTH_DISABLED: "true",
        REDIS_URL: redis.url,
        MYSQL_URL: mysqlUrl,
      }),
    ]);
    cleanups.push(() =>
      Promise.all(
        services.map(async (service) => {
          await service.stop();
          await service.dispose();
        }),
      ),
    );

    project.provide("scratch", scratch);
    project.provide("registryBundle", bundles.registry!);
    project.provide("sequenceBundle", bundles.sequence!);
    project.provide("registryUrl", services[0]!.url);
    project.provide("sequenceUrl", services[1]!.url);
    project.provide("etcdEndpoints", etcd.endpoints.join(","));
    project.provide("redisUrl", redis.url);
    project.provide("mysqlUrl", mysqlUrl);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
