import { afterAll, beforeAll } from "vitest";

/**
 * What a whole test file shares (servers, a service on them): started before the file's first test,
 * stopped after its last, even when a test failed. The returned getter answers it inside a test and
 * throws outside one, where it is not started yet.
 */
export function forFile<T>(start: () => Promise<T>, stop: (value: T) => Promise<unknown> | unknown): () => T {
  let value: { current: T } | undefined;
  beforeAll(async () => {
    value = { current: await start() };
  });
  afterAll(async () => {
    if (value) await stop(value.current);
  });
  return () => {
    if (!value) throw new Error("started before the file's first test: use it inside a test");
    return value.current;
  };
}
