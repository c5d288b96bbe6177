import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sleep, withDeadline } from "@im-core/common";
import { forgetOnExit, killOnExit, startWatchdog } from "./cleanup.js";
import { logSize, logTail } from "./log-file.js";
import { freePorts, isPortFree, ownsListeningPort } from "./ports.js";
import type { LaunchContext, ServerOptions, ServerProcess } from "./server-process.js";

/** Resolves true if `promise` settled within `ms`. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withDeadline(promise, ms, () => new Error("timed out")).then(
    () => true,
    () => false,
  );
}

class PortInUseError extends Error {}

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
  private readonly stopGraceMs: number;
  private readonly extraArgs: string[];
  private readonly onExit: ServerOptions["onExit"];
  /** Requested ports; `undefined` entries are picked free at the first start, then pinned. */
  private requestedPorts: (number | undefined)[];
  private pinnedPorts: number[] | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private lastExitCode: number | null | undefined;
  /** Set when the kit itself ends the current run, so that exit is not reported to `onExit`. */
  private exitRequested = false;
  private watchdog: ChildProcess | undefined;
  private disposed = false;

  protected constructor(
    protected readonly kind: string,
    protected readonly binary: string,
    ports: (number | undefined)[],
    opts: ServerOptions,
    defaults: { readyTimeoutMs?: number; stopGraceMs?: number } = {},
  ) {
    this.requestedPorts = ports;
    this.keepData = opts.keepData ?? opts.dataDir !== undefined;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? defaults.readyTimeoutMs ?? 20_000;
    this.stopGraceMs = opts.stopGraceMs ?? defaults.stopGraceMs ?? 10_000;
    this.extraArgs = opts.extraArgs ?? [];
    this.onExit = opts.onExit;
    if (opts.dataDir !== undefined) {
      this.home = resolve(opts.dataDir);
      mkdirSync(this.home, { recursive: true });
    } else {
      this.home = mkdtempSync(join(tmpdir(), `im-testkit-${kind.replace(/[^\w.-]+/g, "-")}-`));
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
  /** Working directory of the server process; the kit's own by default. */
  protected cwd(): string | undefined {
    return undefined;
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

  get exitCode(): number | null | undefined {
    return this.child ? undefined : this.lastExitCode;
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

    const logStart = logSize(this.logFile);
    const logFd = openSync(this.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(this.binary, [...this.args(ctx), ...this.extraArgs], {
        stdio: ["ignore", logFd, logFd],
        env: this.env(ctx),
        cwd: this.cwd(),
      });
    } finally {
      closeSync(logFd);
    }
    let gone = false;
    let ready = false;
    this.child = child;
    this.exitRequested = false;
    this.exited = new Promise<void>((resolveExit) => {
      const onGone = () => {
        gone = true;
        if (this.child === child) {
          this.child = undefined;
          this.lastExitCode = child.exitCode;
          forgetOnExit(this);
          rmSync(this.pidFile, { force: true });
          if (ready && !this.exitRequested) this.onExit?.(child.exitCode, child.signalCode);
        }
        resolveExit();
      };
      child.once("exit", onGone);
      child.once("error", onGone);
    });
    if (child.pid !== undefined) {
      writeFileSync(this.pidFile, String(child.pid));
      killOnExit(this);
      this.watchdog ??= startWatchdog(this.pidFile, this.keepData ? undefined : this.home);
    }

    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      if (gone || child.pid === undefined) {
        await this.exited;
        const tail = logTail(this.logFile, logStart);
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
            `Last lines of ${this.logFile}:\n${logTail(this.logFile, logStart)}`,
        );
      }
      try {
        // The ownership check rejects an older server still answering on the port (TOOLCHAIN gotcha 7).
        ready = (await this.probe(ctx, AbortSignal.timeout(1000))) && ownsListeningPort(child.pid, ports[0]!);
      } catch {
        // not ready yet
      }
      if (ready && !gone) return;
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

  private signal(signal: NodeJS.Signals): void {
    const child = this.child;
    if (!child) throw new Error(`${this.kind} is not running`);
    child.kill(signal);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.exitRequested = true;
    child.kill("SIGTERM");
    // A SIGSTOPped server only acts on SIGTERM once continued.
    child.kill("SIGCONT");
    if (!(await settlesWithin(this.exited, this.stopGraceMs))) {
      child.kill("SIGKILL");
      await this.exited;
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.exitRequested = true;
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
    this.exitRequested = true;
    child.kill("SIGKILL");
    rmSync(this.pidFile, { force: true });
  }
}
