import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { registryEntry } from "@im-core/registry/entry";
import { sequenceEntry } from "@im-core/sequence/entry";
import { type ServiceOptions, type ServiceProcess, startService } from "@im-core/testkit";
import { benchAuthTokens } from "./bodies.js";
import { scrape } from "./metrics.js";
import type { BenchOptions } from "./options.js";

const benchDir = fileURLToPath(new URL("..", import.meta.url));

/** Servers that answer with constants: what the machine, Node's HTTP/2, Connect and grpc-js cost alone. */
const ANCHORS = [
  { target: "anchor: bare http2", file: "bare-http2" },
  { target: "anchor: connect empty", file: "connect-empty" },
  { target: "anchor: grpc-js", file: "grpc-js" },
] as const;

/**
 * The node processes of one bench pass (the anchors and the services), each started on `node` with
 * its log under `<dir>/logs/<name>/server.log`. Everything started is disposed by {@link disposeAll}.
 */
export class BenchServers {
  private readonly started: ServiceProcess[] = [];

  constructor(
    private readonly opts: BenchOptions,
    private readonly node: string,
    /** `node -v` of `node`, which each service is checked to report. */
    private readonly version: string,
    private readonly dir: string,
    private readonly profileDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** The anchors, by their row target. */
  async startAnchors(): Promise<Map<string, ServiceProcess>> {
    const tsx = import.meta.resolve("tsx");
    const results = await Promise.allSettled(
      ANCHORS.map(({ target, file }) =>
        this.start({
          entry: fileURLToPath(new URL(`./anchors/${file}.ts`, import.meta.url)),
          name: target,
          nodeArgs: ["--import", tsx],
          // tsx finds bench/tsconfig.json from the working directory.
          cwd: benchDir,
          dataDir: join(this.dir, "logs", file),
          // They speak h2c only, which no HTTP/1.1 readiness request can ask.
          ready: "listening",
        }),
      ),
    );
    // All settled first, so every anchor that did start is in `started` for disposeAll.
    const anchors = results.map((result) => {
      if (result.status === "rejected") throw result.reason;
      return result.value;
    });
    return new Map(anchors.map((anchor) => [anchor.name, anchor]));
  }

  /**
   * One of the services, built, ready when its backends are (`/readyz`); a CPU profile with `--profile`.
   * `extra.name` tells a second instance of the same app apart (its logs and profile).
   */
  async startService(
    app: "sequence" | "registry",
    env: Record<string, string>,
    extra: { name?: string; nodeArgs?: string[] } = {},
  ): Promise<ServiceProcess> {
    const t0 = performance.now();
    const name = extra.name ?? app;
    const profileArgs = this.opts.profile
      ? ["--cpu-prof", `--cpu-prof-dir=${this.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
      : [];
    const service = await this.start({
      entry: app === "registry" ? registryEntry : sequenceEntry,
      name,
      nodeArgs: [...profileArgs, ...(extra.nodeArgs ?? [])],
      dataDir: join(this.dir, "logs", name),
      ready: "/readyz",
      readyTimeoutMs: 30_000,
      env: { AUTH_TOKENS: benchAuthTokens, LOG_LEVEL: "info", ...env },
    });
    this.log(`bench: ${name} ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Rows are labelled with this pass's Node: the service itself (prom-client's nodejs_version_info)
    // must say that it runs on it.
    const running = (await scrape(service.url)).find((s) => s.name === "nodejs_version_info")?.labels.version;
    if (running !== this.version) throw new Error(`${app} runs on node ${running}, expected ${this.version}`);
    return service;
  }

  /** Graceful stop, which also makes node write the CPU profile. */
  async stop(server: ServiceProcess): Promise<void> {
    const t0 = performance.now();
    await server.stop();
    this.log(`bench: ${server.name} stopped after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  async disposeAll(): Promise<void> {
    for (const server of this.started.reverse()) await server.dispose();
  }

  private async start(options: ServiceOptions): Promise<ServiceProcess> {
    const server = await startService({ ...options, nodeBinary: this.node });
    this.started.push(server);
    return server;
  }
}
