import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HOST } from "./ports.js";
import { type LaunchContext, ManagedServer, type ServerOptions, type ServerProcess } from "./process.js";

/** One of this repository's services, run as its own `node` process like in production. */
export interface ServiceProcess extends ServerProcess {
  readonly port: number;
  /** `http://127.0.0.1:<port>` (cleartext: Connect, gRPC and gRPC-Web all on it). */
  readonly url: string;
  /** Everything the process printed (pino JSON lines) so far. */
  output(): string;
}

export interface ServiceOptions extends ServerOptions {
  /** `registry` or `sequence` (their built `apps/<app>/dist/main.js`), or a path to any main.js. */
  app: "registry" | "sequence" | (string & {});
  /** Extra environment: backends (ETCD_ENDPOINTS, ...), auth, limits. PORT and HOST are set by the kit. */
  env?: Record<string, string>;
  /** Node binary to run it with (e.g. Node 24 for a comparison); default: the current one. */
  nodeBinary?: string;
  /** Flags for node before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

/** Path of a built app's entry point in this workspace. */
export function appEntry(app: string): string {
  if (app.endsWith(".js")) return app;
  const entry = fileURLToPath(new URL(`../../../apps/${app}/dist/main.js`, import.meta.url));
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: build the app first (pnpm --dir apps/${app} build, or pnpm build)`);
  }
  return entry;
}

class ServiceServerProcess extends ManagedServer implements ServiceProcess {
  constructor(private readonly options: ServiceOptions) {
    super(options.app.replace(/.*\//, ""), options.nodeBinary ?? process.execPath, [options.port], options);
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
    return [...(this.options.nodeArgs ?? []), appEntry(this.options.app)];
  }

  protected override env({ ports }: LaunchContext): NodeJS.ProcessEnv {
    return { ...process.env, LOG_LEVEL: "warn", ...this.options.env, HOST, PORT: String(ports[0]) };
  }

  protected override async probe({ ports }: LaunchContext, signal: AbortSignal): Promise<boolean> {
    const response = await fetch(`http://${HOST}:${ports[0]}/healthz`, { signal }).catch(() => undefined);
    return response?.ok ?? false;
  }
}

/**
 * Starts a built service as a separate node process on a free port and waits until `/healthz`
 * answers (readiness — backends reachable — is `/readyz`, which tests check themselves).
 */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const service = new ServiceServerProcess(options);
  await service.start();
  return service;
}
