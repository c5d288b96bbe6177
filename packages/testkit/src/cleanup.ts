import { type ChildProcess, spawn } from "node:child_process";

/** A running process the kit must not leave behind when its owner goes away. */
export interface Killable {
  /** SIGKILL without waiting: exit hooks cannot await anything. */
  killSync(): void;
}

// Processes killed synchronously when this process exits or is interrupted.
const live = new Set<Killable>();
let exitHooksInstalled = false;

/** Kills `process` when this process exits or gets SIGINT/SIGTERM/SIGHUP, until {@link forgetOnExit}. */
export function killOnExit(process: Killable): void {
  live.add(process);
  installExitHooks();
}

export function forgetOnExit(process: Killable): void {
  live.delete(process);
}

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

/**
 * A detached shell that, once this process is gone (even by SIGKILL), SIGKILLs the pid written in `pidFile`
 * and removes `removeDir` (if given). Kill it (SIGKILL) when the server is disposed normally.
 */
export function startWatchdog(pidFile: string, removeDir: string | undefined): ChildProcess {
  const watchdog = spawn(
    "/bin/sh",
    ["-c", WATCHDOG_SCRIPT, "testkit-watchdog", String(process.pid), pidFile, removeDir ?? ""],
    { detached: true, stdio: "ignore" },
  );
  watchdog.on("error", () => {});
  watchdog.unref();
  return watchdog;
}
