import { sleep } from "@im-core/common";

/**
 * Polls `check` until it passes (returns its value) or `timeoutMs` runs out (throws its last
 * failure). For conditions real servers reach asynchronously: an expiry, a watch event, a restart.
 */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(intervalMs);
    }
  }
}
