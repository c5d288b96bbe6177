import { sleep } from "@im-core/common";
import type { History } from "../history.js";
import type { Random } from "../random.js";

/** What every worker is handed. */
export interface WorkerContext {
  name: string;
  history: History;
  random: Random;
  /** Aborted when the workload ends: a worker finishes its current call and returns. */
  stop: AbortSignal;
}

/** A unary call's deadline: longer than any backend bound the services apply (etcd 5 s, MySQL 5 s). */
export const CALL_TIMEOUT_MS = 8_000;

/** Sleeps `ms`, returning early (false) once the workload is asked to stop. */
export async function pause(stop: AbortSignal, ms: number): Promise<boolean> {
  if (stop.aborted) return false;
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    stop.addEventListener("abort", onAbort, { once: true });
  });
  await Promise.race([sleep(ms), aborted]);
  stop.removeEventListener("abort", onAbort);
  return !stop.aborted;
}
