import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { cleanEnv } from "./environment.js";
import { followLog, type LogFollower } from "./log-file.js";
import { ManagedServer } from "./managed-server.js";
import { HOST } from "./ports.js";
import { acceptsConnections, answersOk } from "./probes.js";
import type { LaunchContext, ServerOptions, ServerProcess } from "./server-process.js";

/** A node process serving on one port: one of this repository's services, a bundle of one, a bench anchor. */
export interface ServiceProcess extends ServerProcess {
  /** {@link ServiceOptions.name}. */
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` (cleartext: Connect, gRPC and gRPC-Web all on it). */
  readonly url: string;
  /** Everything the process printed (pino JSON lines) so far, across restarts. */
  output(): string;
}

export interface ServiceOptions extends ServerOptions {
  /**
   * Absolute path of the script node runs. Callers resolve it, so the kit knows nothing of the
   * workspace's layout: `registryEntry` from `@im-core/registry/entry` for a built app,
   * `<bundle>/dist/main.js` for a bundle.
   */
  entry: string;
  /** Names the process in errors and its temp dir. Default: the name of the package `entry` belongs to. */
  name?: string;
  /** Backends (ETCD_ENDPOINTS, ...), auth, limits. The kit sets PORT and HOST; LOG_LEVEL is warn unless set. */
  env?: Record<string, string>;
  /** Working directory. Default: this process's. */
  cwd?: string;
  /**
   * Start from {@link cleanEnv} (as on a machine without this repository) instead of this process's
   * environment: for bundles, which must not work here for reasons an operator's machine lacks.
   */
  isolatedEnv?: boolean;
  /** Node binary to run it with (e.g. Node 24 for a comparison). Default: the current one. */
  nodeBinary?: string;
  /** Flags for node before the script, e.g. `--cpu-prof` or `--import tsx`. */
  nodeArgs?: string[];
  /**
   * When the start is complete: GET `/healthz` answers 200 (the default: the process serves), GET
   * `/readyz` answers 200 (its backends are reachable too), or `listening`: the process holds a listening
   * socket on its port, for servers an HTTP/1.1 request cannot ask (h2c only).
   */
  ready?: "/healthz" | "/readyz" | "listening";
  /**
   * Called with each line the process prints (stdout and stderr), from start until dispose, e.g. to show
   * them in a terminal. The lines still go to {@link ServerProcess.logFile} too.
   */
  onOutput?: (line: string) => void;
}

/** The `name` of the package.json nearest above `entry`, for messages: `@im-core/registry` for its main.js. */
function packageName(entry: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      return (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name ?? basename(dir);
    }
  }
  return basename(entry);
}

class NodeServiceProcess extends ManagedServer implements ServiceProcess {
  private readonly follower: LogFollower | undefined;

  constructor(
    readonly name: string,
    private readonly options: ServiceOptions,
  ) {
    // Longer than a service's own drain on SIGTERM (SHUTDOWN_GRACE_MS, 10 s by default).
    super(name, options.nodeBinary ?? process.execPath, [options.port], options, { stopGraceMs: 20_000 });
    if (options.onOutput) this.follower = followLog(this.logFile, options.onOutput);
  }

  override async start(): Promise<void> {
    await super.start();
    // What it printed until ready comes before whatever the caller prints next.
    this.follower?.poll();
  }

  get port(): number {
    return this.ports[0]!;
  }

  get url(): string {
    return `http://${HOST}:${this.port}`;
  }

  output(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  protected override args(): string[] {
    return [...(this.options.nodeArgs ?? []), this.options.entry];
  }

  protected override env({ ports }: LaunchContext): NodeJS.ProcessEnv {
    const base = this.options.isolatedEnv ? cleanEnv() : process.env;
    return { LOG_LEVEL: "warn", ...base, ...this.options.env, HOST, PORT: String(ports[0]) };
  }

  protected override cwd(): string | undefined {
    return this.options.cwd;
  }

  protected override probe({ ports }: LaunchContext, signal: AbortSignal): Promise<boolean> {
    const ready = this.options.ready ?? "/healthz";
    return ready === "listening"
      ? acceptsConnections(ports[0]!, signal)
      : answersOk(ports[0]!, ready, signal);
  }

  override async dispose(): Promise<void> {
    // The last lines are read before the home dir, and the log file in it, may go.
    await this.kill();
    this.follower?.stop();
    await super.dispose();
  }
}

/**
 * Starts `node <nodeArgs> <entry>` as its own process, as in production: on a free port (or
 * `options.port`), with PORT and HOST set, its output in a log file. Resolves once it is ready (see
 * {@link ServiceOptions.ready}); a process that exits first fails the start with its last log lines.
 */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  if (!isAbsolute(options.entry)) throw new Error(`entry must be an absolute path, got ${options.entry}`);
  if (!existsSync(options.entry)) {
    throw new Error(
      `${options.entry} does not exist: build it first (\`pnpm exec turbo run build\` at the repository root)`,
    );
  }
  const service = new NodeServiceProcess(options.name ?? packageName(options.entry), options);
  await service.start();
  return service;
}
