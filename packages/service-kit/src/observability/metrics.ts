import type { Interceptor } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { isStoreError } from "@im-core/common";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { markCounted } from "./protocol-rejections.js";

/**
 * The service's Prometheus metrics. Apps add their own (cache size, reservations) to `registry`
 * with the helpers below, so every metric of a process is served by one `/metrics`.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly calls = new Counter({
    name: "rpc_calls_total",
    help: "Finished RPCs by method and Connect code.",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "rpc_duration_seconds",
    help: "RPC latency by method (for streams: how long they stayed open).",
    labelNames: ["method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  });
  readonly backendErrors = new Counter({
    name: "backend_errors_total",
    help: "Errors raised by a backend store, by kind (unavailable, not_found, ...).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: "backend_up",
    help: "1 while the last readiness probe reached the backend, 0 while it did not.",
    labelNames: ["backend"] as const,
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: "ready",
    help: "1 while the instance reports ready (degraded included), 0 while not (draining, its own connection broken).",
    registers: [this.registry],
  });
  readonly openStreams = new Gauge({
    name: "rpc_open_streams",
    help: "Server-streaming calls (Watch) open on this instance.",
    registers: [this.registry],
  });

  constructor(serviceName: string) {
    this.registry.setDefaultLabels({ service: serviceName });
    collectDefaultMetrics({ register: this.registry });
  }

  gauge(name: string, help: string, collect: () => number): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(collect());
      },
    });
  }

  counter<Label extends string>(
    name: string,
    help: string,
    labelNames: readonly Label[] = [],
  ): Counter<Label> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  // Label children looked up once per method and code, not hashed again on every call.
  readonly #byMethod = new Map<
    string,
    { histogram: Histogram.Internal<"method">; counters: Map<string, Counter.Internal> }
  >();

  /**
   * Counts one finished call and its latency: `error` undefined for success, else its final (mapped)
   * error. Every call passes here, from the interceptor below or from the lean path.
   */
  recordCall(method: string, started: number, error: unknown): void {
    let children = this.#byMethod.get(method);
    if (children === undefined) {
      children = { histogram: this.latency.labels({ method }), counters: new Map() };
      this.#byMethod.set(method, children);
    }
    const code = error === undefined ? "ok" : codeName(error);
    let counter = children.counters.get(code);
    if (counter === undefined) {
      counter = this.calls.labels({ method, code });
      children.counters.set(code, counter);
    }
    counter.inc();
    children.histogram.observe((performance.now() - started) / 1e3);
  }

  /** Outermost interceptor: sees the final code of every call, after errors were mapped. */
  interceptor(): Interceptor {
    return (next) => async (request) => {
      markCounted(request.contextValues);
      const method = request.method.name;
      const started = performance.now();
      let response: Awaited<ReturnType<typeof next>>;
      try {
        response = await next(request);
      } catch (error) {
        this.recordCall(method, started, error);
        throw error;
      }
      if (!response.stream) {
        this.recordCall(method, started, undefined);
        return response;
      }
      const messages = response.message;
      const record = (failure: unknown) => this.recordCall(method, started, failure);
      return {
        ...response,
        message: (async function* () {
          let failure: unknown;
          try {
            yield* messages;
          } catch (error) {
            failure = error;
            throw error;
          } finally {
            record(failure);
          }
        })(),
      };
    };
  }

  /** Counts a call Connect answered without running the interceptors (see protocol-rejections.ts). */
  countRejectedCall(method: string, code: Code): void {
    this.calls.inc({ method, code: codeLabel(code) });
  }

  /** Counts store errors as they are mapped to codes. */
  noteError(error: unknown): void {
    if (isStoreError(error)) this.backendErrors.inc({ kind: error.kind });
  }
}

function codeName(error: unknown): string {
  return codeLabel(error instanceof ConnectError ? error.code : Code.Unknown);
}

/** `resource_exhausted` for Code.ResourceExhausted: the names Connect uses on the wire. */
function codeLabel(code: Code): string {
  return (Code[code] ?? "Unknown").replace(
    /[A-Z]/g,
    (letter, index: number) => (index === 0 ? "" : "_") + letter.toLowerCase(),
  );
}
