import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { useRegistryService, useSequenceService } from "./testing/services.js";

const registry = useRegistryService();
const sequence = useSequenceService();
const example = fileURLToPath(new URL("../examples/gateway.ts", import.meta.url));

it("the README's example runs against real services and prints what the README shows", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", example], {
    env: { ...process.env, REGISTRY_URL: registry().service.url, SEQUENCE_URL: sequence().service.url },
    timeout: 20_000,
  });
  expect(stdout).toMatch(/^registered 2 more in one call$/m);
  expect(stdout).toMatch(/^lease \d+, 3 devices, renewing every 10000 ms$/m);
  expect(stdout).toMatch(/^alice is on phone@gw-example:9000$/m);
  expect(stdout).toMatch(/^ranges 1-1 2-3 4-6$/m);
  expect(stdout).toMatch(/^close alice\/phone: taken_over, now on gw-other:9000$/m);
  expect(stdout).toMatch(/^after close bob has 0 devices$/m);
});
