import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  exchangeBoth,
  LogPacer,
  type Observation,
  PairClients,
} from "../../../testing/differential/exchange.js";
import { requestSpecArbitrary } from "../../../testing/differential/request-arbitraries.js";
import { targetsOf } from "../../../testing/differential/request-model.js";
import { caseKey, toWire } from "../../../testing/differential/request-spec.js";
import { startServerPair } from "../../../testing/differential/server-pair.js";

/**
 * Opt-in (LEAN_DIFF_SURVEY=<requests per pair>, LEAN_DIFF_SEED): the property stops at its first
 * difference, which can hide others; this sends every request of a long sample to h2c and TLS pairs of
 * both services and writes every difference found (request, both observations) to a JSON file.
 */
const runs = Number(process.env.LEAN_DIFF_SURVEY ?? 0);
const seed = Number(process.env.LEAN_DIFF_SEED ?? 1);

describe.skipIf(runs === 0)("survey of every difference between the two paths", () => {
  for (const service of ["registry", "sequence"] as const) {
    for (const tls of [false, true]) {
      it(`${service} over ${tls ? "TLS" : "h2c"}`, { timeout: 1_800_000 }, async () => {
        const pair = await startServerPair(service, { tls });
        const clients = new PairClients(pair);
        const targets = targetsOf(service);
        const pacer = new LogPacer();
        const differences: unknown[] = [];
        try {
          for (const spec of fc.sample(requestSpecArbitrary(targets), { seed, numRuns: runs })) {
            await pacer.pace();
            const target = targets.find((candidate) => candidate.path === spec.path)!;
            const { reference, lean } = await exchangeBoth(clients, toWire(spec, target));
            pacer.note(reference.logLines);
            if (isDeepStrictEqual(lean, reference)) continue;
            const fields = (Object.keys(reference) as (keyof Observation)[]).filter(
              (field) => !isDeepStrictEqual(lean[field], reference[field]),
            );
            differences.push({ case: caseKey(spec, target), spec, fields, reference, lean });
          }
        } finally {
          clients.close();
          await pair.close();
        }
        const file = path.join(tmpdir(), `lean-differences-${service}-${tls ? "tls" : "h2c"}.json`);
        writeFileSync(file, JSON.stringify(differences, null, 1));
        console.log(
          `${service} ${tls ? "TLS" : "h2c"}: ${differences.length} differences in ${runs} requests (${file})`,
        );
      });
    }
  }
});
