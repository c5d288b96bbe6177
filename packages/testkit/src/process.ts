import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { freePorts, isPortFree, ownsListeningPort } from "./ports.js";

/**
 * One private server process started by the kit. All methods act on the process the kit spawned itself
 * (by pid), never on other servers of the same kind.
 */
export interface ServerProcess extends AsyncDisposable {
  /** Pid of the running server process (the server binary itself, not a shell); `undefined` while it is down. */
  readonly pid: number | undefined;
  /** Directory owned by this server: `data/` (the server's data), `server.log` (stdout+stderr of every run). */
  readonly home: string;
  /** The server's own data directory (`<home>/data`); `restart({ wipe: true })` empties it. */
  readonly dataDir: string;
  /** Log file collecting stdout and stderr of every run, appended across restarts. */
  readonly logFile: string;
  /** Graceful stop: SIGTERM (and SIGCONT, in case it is paused), SIGKILL if still alive after 10 s. No-op when down. */
  stop(): Promise<void>;
  /** `kill -9`: SIGKILL and wait for the exit. No-op when down. */
  kill(): Promise<void>;
  /**
   * Stops the server if it runs, optionally empties its data dir, starts it again on the SAME port(s) and
   * waits until it answers.
   */
  restart(opts?: { wipe?: boolean }): Promise<void>;
  /** SIGSTOP: the server keeps its sockets but stops answering (a hung server). Throws when down. */
  pause(): void;
  /** SIGCONT: undoes {@link ServerProcess.pause}. Throws when down. */
  resume(): void;
  /**
   * SIGKILL and remove the home dir (unless data is kept, see {@link ServerOptions.keepData}). Idempotent.
   * Also `[Symbol.asyncDispose]`, so `await using redis = await startRedis()` cleans up when a test throws.
   */
  dispose(): Promise<void>;
}

/**
 * Options every start function accepts. Tests pass none: free ports and a temporary home dir, deleted on
 * dispose. A local-dev script passes fixed ports and a persistent dir to run the same servers with the
 * same code: `startRedis({ port: 6379, dataDir: "infra/local/data/redis" })`.
 */
export interface ServerOptions {
  /** Fixed (client) port. Start fails with a clear error when it is in use. Default: a free port. */
  port?: number;
  /** Home dir to use (created if missing); the server's data lives in `<dataDir>/data`. Default: a new temp dir. */
  dataDir?: string;
  /** Keep the home dir on dispose and when the owner dies. Default: true when `dataDir` is given, else false. */
  keepData?: boolean;
  /** How long to wait for the server to answer. Default 20 s (30 s for MariaDB). */
  readyTimeoutMs?: number;
  /** Extra command-line arguments appended to the kit's own. */
  extraArgs?: string[];
}

/** Paths and ports of one launch, handed to the server-specific hooks. */
export interface LaunchContext {
  readonly ports: readonly number[];
  readonly home: string;
  readonly dataDir: string;
  readonly logFile: string;
}

const binaryCache = new Map<string, string>();

/**
 * Absolute path of an executable, searched in PATH and the sbin dirs (mariadbd lives in /usr/sbin, which a
 * non-root PATH lacks). Throws an error naming the Debian package and the project's install script.
 */
export function resolveBinary(name: string, debianPackage: string): string {
  const cached = binaryCache.get(name);
  if (cached) return cached;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      binaryCache.set(name, path);
      return path;
    } catch {
      // try the next dir
    }
  }
  throw new Error(
    `${name} not found in PATH or /usr/sbin. Install the Debian package ${debianPackage} ` +
      `(apt-get install -y ${debianPackage}) or run \`bash infra/install-deps.sh\` from the repository root.`,
  );
}

/** Runs a helper binary to completion; rejects with its stderr. */
export function run(
  binary: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      binary,
      args,
      { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${binary} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
        } else {
          resolvePromise(stdout);
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true if `promise` settled within `ms`; never keeps the event loop alive after it settles. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class PortInUseError extends Error {}

// Servers with a live process, killed synchronously when this process exits or is interrupted.
const live = new Set<ManagedServer>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = () => {
    for (const server of live) server.killSync();
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = () => {
      // A program that handles the signal itself (a local-dev script stopping gracefully, a test runner)
      // owns the shutdown; the exit hook and the watchdogs still cover it.
      if (process.listenerCount(signal) > 1) return;
      killAll();
      // Listening for a signal cancelled Node's default of dying from it; restore that.
      process.off(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

// Survives a SIGKILL of this process, which no exit hook sees. It reads the server's pid from a file so one
// watchdog follows the server across restarts; a zombie parent (killed, not yet reaped) counts as dead.
const WATCHDOG_SCRIPT = `
alive() { kill -0 "$1" 2>/dev/null || return 1; st=; read -r st < "/proc/$1/stat" 2>/dev/null; s=\${st##*") "}; [ "\${s%% *}" != Z ]; }
while alive "$1"; do sleep 0.5; done
pid=$(cat "$2" 2>/dev/null) && kill -9 "$pid" 2>/dev/null
if [ -n "$3" ]; then sleep 0.5; rm -rf "$3"; fi
`;

const STOP_TIMEOUT_MS = 10_000;

/**
 * The lifecycle shared by every server kind: ports, home dir, spawn with the log file as stdout/stderr,
 * readiness polling, stop/kill/restart/pause, exit hooks and the watchdog. Subclasses only say how to build
 * the command line, how to prepare a data dir and how to ask the server whether it is ready.
 */
export abstract class ManagedServer implements ServerProcess {
  readonly home: string;
  readonly dataDir: string;
  readonly logFile: string;
  private readonly pidFile: string;
  private readonly keepData: boolean;
  private readonly readyTimeoutMs: number;
  private readonly extraArgs: string[];
  /** Requested ports; `undefined` entries are picked free at the first start, then pinned. */
  private requestedPorts: (number | undefined)[];
  private pinnedPorts: number[] | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private watchdog: ChildProcess | undefined;
  private disposed = false;

  protected constructor(
    protected readonly kind: string,
    protected readonly binary: string,
    ports: (number | undefined)[],
    opts: ServerOptions,
    defaultReadyTimeoutMs = 20_000,
  ) {
    this.requestedPorts = ports;
    this.keepData = opts.keepData ?? opts.dataDir !== undefined;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? defaultReadyTimeoutMs;
    this.extraArgs = opts.extraArgs ?? [];
    if (opts.dataDir !== undefined) {
      this.home = resolve(opts.dataDir);
      mkdirSync(this.home, { recursive: true });
    } else {
      this.home = mkdtempSync(join(tmpdir(), `im-testkit-${kind}-`));
    }
    this.dataDir = join(this.home, "data");
    this.logFile = join(this.home, "server.log");
    this.pidFile = join(this.home, "server.pid");
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
  }

  /** Command-line arguments for the binary. */
  protected abstract args(ctx: LaunchContext): string[];
  /** One readiness attempt; `true` once the server really answers on `ctx.ports[0]`. */
  protected abstract probe(ctx: LaunchContext, signal: AbortSignal): Promise<boolean>;
  /** Environment of the server process; the kit's own environment by default. */
  protected env(_ctx: LaunchContext): NodeJS.ProcessEnv {
    return process.env;
  }
  /** Runs before every launch, e.g. to initialise an empty data dir. */
  protected async prepare(_ctx: LaunchContext): Promise<void> {}
  /** Empties the data dir for `restart({ wipe: true })`. */
  protected async wipe(): Promise<void> {
    await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ports of the server, fixed after the first successful start. */
  get ports(): readonly number[] {
    if (!this.pinnedPorts) throw new Error(`${this.kind} has not been started yet`);
    return this.pinnedPorts;
  }

  protected context(ports: readonly number[]): LaunchContext {
    return { ports, home: this.home, dataDir: this.dataDir, logFile: this.logFile };
  }

  /** Starts the server and waits until it answers; retries with new free ports when one was taken meanwhile. */
  async start(): Promise<void> {
    if (this.disposed) throw new Error(`${this.kind} server was disposed`);
    if (this.child) return;
    for (let attempt = 1; ; attempt++) {
      const ports = this.pinnedPorts ?? (await this.pickPorts());
      try {
        await this.launch(ports);
        this.pinnedPorts = ports;
        return;
      } catch (error) {
        const canRepick = this.pinnedPorts === undefined && this.requestedPorts.includes(undefined);
        if (error instanceof PortInUseError && canRepick && attempt < 5) continue;
        if (!this.pinnedPorts) await this.dispose();
        throw error;
      }
    }
  }

  private async pickPorts(): Promise<number[]> {
    const missing = this.requestedPorts.filter((p) => p === undefined).length;
    const picked = await freePorts(missing);
    return this.requestedPorts.map((p) => p ?? (picked.shift() as number));
  }

  private async launch(ports: number[]): Promise<void> {
    await this.ensurePortsFree(ports);
    const ctx = this.context(ports);
    await this.prepare(ctx);

    const logFd = openSync(this.logFile, "a");
    const logStart = fstatSync(logFd).size;
    let child: ChildProcess;
    try {
      child = spawn(this.binary, [...this.args(ctx), ...this.extraArgs], {
        stdio: ["ignore", logFd, logFd],
        env: this.env(ctx),
      });
    } finally {
      closeSync(logFd);
    }
    let exitedFlag = false;
    this.child = child;
    this.exited = new Promise<void>((resolveExit) => {
      const onGone = () => {
        exitedFlag = true;
        if (this.child === child) {
          this.child = undefined;
          live.delete(this);
          rmSync(this.pidFile, { force: true });
        }
        resolveExit();
      };
      child.once("exit", onGone);
      child.once("error", onGone);
    });
    if (child.pid !== undefined) {
      writeFileSync(this.pidFile, String(child.pid));
      live.add(this);
      installExitHooks();
      this.ensureWatchdog();
    }

    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (exitedFlag || child.pid === undefined) {
        await this.exited;
        const tail = this.logTail(logStart);
        if (/address already in use|EADDRINUSE/i.test(tail)) throw new PortInUseError(tail);
        throw new Error(
          `${this.kind} exited during start-up (exit code ${child.exitCode}, signal ${child.signalCode}). ` +
            `Last lines of ${this.logFile}:\n${tail}`,
        );
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `${this.kind} did not become ready within ${this.readyTimeoutMs} ms on 127.0.0.1:${ports[0]}. ` +
            `Last lines of ${this.logFile}:\n${this.logTail(logStart)}`,
        );
      }
      let ready = false;
      try {
        // The ownership check rejects an older server still answering on the port (TOOLCHAIN gotcha 7).
        ready = (await this.probe(ctx, AbortSignal.timeout(1000))) && ownsListeningPort(child.pid, ports[0]!);
      } catch {
        // not ready yet
      }
      if (ready && !exitedFlag) return;
      await sleep(20);
    }
  }

  private async ensurePortsFree(ports: readonly number[]): Promise<void> {
    for (const port of ports) {
      if (await isPortFree(port)) continue;
      if (this.pinnedPorts === undefined) {
        if (this.requestedPorts.includes(port)) {
          throw new Error(
            `${this.kind}: port ${port} on 127.0.0.1 is already in use (is another ${this.kind} running there?)`,
          );
        }
        throw new PortInUseError(`port ${port} was taken before ${this.kind} could bind it`);
      }
      // A restart reuses the ports; give a just-killed process's socket a moment to go away.
      const deadline = Date.now() + 5000;
      while (!(await isPortFree(port))) {
        if (Date.now() > deadline) {
          throw new Error(
            `${this.kind}: cannot restart, port ${port} on 127.0.0.1 is held by another process`,
          );
        }
        await sleep(50);
      }
    }
  }

  private ensureWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = spawn(
      "/bin/sh",
      [
        "-c",
        WATCHDOG_SCRIPT,
        "testkit-watchdog",
        String(process.pid),
        this.pidFile,
        this.keepData ? "" : this.home,
      ],
      { detached: true, stdio: "ignore" },
    );
    this.watchdog.on("error", () => {});
    this.watchdog.unref();
  }

  /** Last lines of the log written since byte offset `from` (this launch only). */
  logTail(from = 0, maxBytes = 4096): string {
    try {
      const fd = openSync(this.logFile, "r");
      try {
        const size = fstatSync(fd).size;
        const start = Math.max(from, size - maxBytes);
        const buffer = Buffer.alloc(size - start);
        readSync(fd, buffer, 0, buffer.length, start);
        return buffer.toString("utf8").split("\n").slice(-40).join("\n");
      } finally {
        closeSync(fd);
      }
    } catch {
      return "(no log)";
    }
  }

  private signal(signal: NodeJS.Signals): void {
    const child = this.child;
    if (!child) throw new Error(`${this.kind} is not running`);
    child.kill(signal);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGTERM");
    // A SIGSTOPped server only acts on SIGTERM once continued.
    child.kill("SIGCONT");
    if (!(await settlesWithin(this.exited, STOP_TIMEOUT_MS))) {
      child.kill("SIGKILL");
      await this.exited;
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  async restart(opts: { wipe?: boolean } = {}): Promise<void> {
    if (this.disposed) throw new Error(`${this.kind} server was disposed`);
    await this.stop();
    if (opts.wipe) await this.wipe();
    await this.start();
  }

  pause(): void {
    this.signal("SIGSTOP");
  }

  resume(): void {
    this.signal("SIGCONT");
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.kill();
    if (this.watchdog?.pid !== undefined && this.watchdog.exitCode === null) this.watchdog.kill("SIGKILL");
    if (!this.keepData) await rm(this.home, { recursive: true, force: true, maxRetries: 3 });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** @internal Used by the exit hooks: SIGKILL without waiting; the watchdog then removes the home dir. */
  killSync(): void {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    rmSync(this.pidFile, { force: true });
  }
}
