import fc from "fast-check";
import { expect } from "vitest";
import { type Exchange, exchangeBoth, LogPacer, type PairClients } from "./exchange.js";
import { requestSpecArbitrary } from "./request-arbitraries.js";
import { type Target, targetsOf } from "./request-model.js";
import { caseKey, leanEligible, type RequestSpec, toWire } from "./request-spec.js";

/** Which path served one generated request, against what the brief says it should be. */
export interface LeanRecord {
  spec: RequestSpec;
  caseKey: string;
  expected: boolean | undefined;
  served: number | undefined;
}

export interface PropertyReport {
  runs: number;
  /** Distinct {@link caseKey}s sent. */
  cases: Set<string>;
  /** Distinct answers seen (status, gRPC status or Connect code), to show the answers were varied. */
  answers: Set<string>;
  lean: LeanRecord[];
}

export function newReport(): PropertyReport {
  return { runs: 0, cases: new Set(), answers: new Set(), lean: [] };
}

function answerKey(exchange: Exchange): string {
  const { answer } = exchange.reference;
  const grpc = answer.trailers["grpc-status"] ?? answer.headers["grpc-status"];
  const body = answer.body;
  const connect =
    body.kind === "json" && typeof body.value === "object" && body.value !== null
      ? String((body.value as { code?: unknown }).code)
      : "";
  return `${answer.status ?? "no-status"} ${grpc ?? ""} ${connect} ${answer.error ?? ""}`.trim();
}

/**
 * The differential property: every request generated for the pair's service goes to both servers, and
 * the lean server must do exactly what the reference did: the same answer on the wire (normalized), the
 * same counted metrics, the same handler calls, the same request log lines.
 */
export async function checkEquivalence(
  clients: PairClients,
  options: { transport: "h2" | "http1"; numRuns: number; seed: number; report: PropertyReport },
): Promise<void> {
  const targets = targetsOf(clients.pair.service);
  const byPath = new Map<string, Target>(targets.map((target) => [target.path, target]));
  const pacer = new LogPacer();
  const { report } = options;
  await fc.assert(
    fc.asyncProperty(requestSpecArbitrary(targets, options.transport === "http1"), async (spec) => {
      await pacer.pace();
      const target = byPath.get(spec.path)!;
      const exchange = await exchangeBoth(clients, toWire(spec, target), options.transport);
      pacer.note(exchange.reference.logLines);
      report.runs += 1;
      const key = `${options.transport}|${caseKey(spec, target)}`;
      report.cases.add(key);
      report.answers.add(answerKey(exchange));
      report.lean.push({
        spec,
        caseKey: key,
        expected: leanEligible(spec, target, options.transport === "h2"),
        served: exchange.leanServed,
      });
      expect(exchange.referenceLeanServed ?? 0).toBe(0);
      expect(exchange.lean).toEqual(exchange.reference);
    }),
    { seed: options.seed, numRuns: options.numRuns },
  );
}

/**
 * The requests that did not take the path the brief specifies (lean or connectNodeAdapter): how many,
 * and the first few, each as its case and what happened.
 */
export function misrouted(report: PropertyReport): { count: number; first: string[] } {
  const wrong = report.lean.filter(
    (record) => record.expected !== undefined && record.served !== (record.expected ? 1 : 0),
  );
  return {
    count: wrong.length,
    first: wrong
      .slice(0, 5)
      .map(
        (record) =>
          `${record.expected ? "lean" : "adapter"} expected, rpc_lean_calls_total +${record.served}: ${record.caseKey}`,
      ),
  };
}

/** The request dimensions whose values are counted for the summary. */
/**
 * A test running a property of hundreds of exchanges: bounded work, but on a loaded two-core machine it
 * takes several times its usual ~8 s, so the files' 20 s default is too tight.
 */
export const PROPERTY_TIMEOUT_MS = 90_000;

const DIMENSIONS: (keyof RequestSpec)[] = [
  "path",
  "contentType",
  "httpMethod",
  "query",
  "body",
  "auth",
  "requestId",
  "grpcTimeout",
  "connectTimeout",
  "grpcAcceptEncoding",
  "acceptEncoding",
  "encodingHeader",
  "origin",
  "contentLength",
];

/** One quiet line: how much the property covered (distinct cases, and distinct values of each dimension). */
export function summary(name: string, report: PropertyReport): string {
  const lean = report.lean.filter((record) => record.expected).length;
  const values = DIMENSIONS.map(
    (dimension) =>
      `${dimension} ${new Set(report.lean.map((record) => JSON.stringify(record.spec[dimension]))).size}`,
  ).join(", ");
  return `${name}: ${report.runs} requests, ${report.cases.size} distinct cases, ${report.answers.size} distinct answers, ${lean} asserted to take the lean path; values per dimension: ${values}`;
}
