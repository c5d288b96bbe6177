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
  /**
   * How the last run ended: its exit code, `null` when a signal ended it (such as the SIGKILL after a stop's
   * grace); `undefined` while it runs or before it ever ran.
   */
  readonly exitCode: number | null | undefined;
  /**
   * Graceful stop: SIGTERM (and SIGCONT, in case it is paused), SIGKILL if still alive after the grace
   * ({@link ServerOptions.stopGraceMs}); then {@link ServerProcess.exitCode} tells how it went. No-op when down.
   */
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
  /** How long {@link ServerProcess.stop} waits after SIGTERM before SIGKILL. Default 10 s (20 s for services). */
  stopGraceMs?: number;
  /** Extra command-line arguments appended to the kit's own. */
  extraArgs?: string[];
  /**
   * Called when the server, once ready, exits without the kit having been asked to stop it (a crash, a
   * kill from outside): a long-running owner such as the local-dev script can then shut down too.
   */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Paths and ports of one launch, handed to the server-specific hooks. */
export interface LaunchContext {
  readonly ports: readonly number[];
  readonly home: string;
  readonly dataDir: string;
  readonly logFile: string;
}
