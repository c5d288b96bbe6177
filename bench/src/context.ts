import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ServiceProcess } from "@im-core/testkit";
import { type WireProtocol, wireBody, wireHeaders } from "./bodies.js";
import { h2load } from "./h2load.js";
import { type Limit, rawLoad } from "./loadgen.js";
import { callDelta, scrape } from "./metrics.js";
import { type BenchOptions, type Sizes, sizes } from "./options.js";
import { serverCpuMs } from "./procs.js";
import { type Around, loadRow, notMeasured, type Preflight } from "./rows.js";
import type { Row } from "./table.js";

export class Bench {
  readonly size: Sizes;

  constructor(
    readonly opts: BenchOptions,
    /** Directory of this run (logs, bodies, profiles). */
    readonly dir: string,
    readonly anchors: Map<string, ServiceProcess>,
  ) {
    this.size = sizes(opts.quick);
    if (opts.spread !== undefined) this.size.spreadConversations = opts.spread;
  }

  /** Writes a body file once per content and returns its path. */
  bodyFile(body: Buffer): string {
    const file = join(this.dir, `body-${createHash("sha1").update(body).digest("hex").slice(0, 12)}.bin`);
    if (!existsSync(file)) writeFileSync(file, body);
    return file;
  }

  /**
   * The server-only table for one RPC: at each concurrency and wire protocol, the anchors first
   * (grpc-js only speaks gRPC), then the service itself, or why it was not measured.
   */
  async serverOnlyRows(args: {
    case: string;
    method: string;
    path: string;
    message: Uint8Array;
    service: ServiceProcess;
    pre: Preflight;
    units?: { perCall: number; name: string };
    around?: Around;
  }): Promise<Row[]> {
    const rows: Row[] = [];
    for (const concurrency of this.size.concurrencies) {
      for (const protocol of ["grpc", "connect"] as WireProtocol[]) {
        const common = {
          section: "server (h2load)",
          case: args.case,
          method: args.method,
          path: args.path,
          message: args.message,
          protocol,
          concurrency,
        };
        for (const [target, anchor] of this.anchors) {
          if (target === "anchor: grpc-js" && protocol !== "grpc") continue;
          rows.push(await this.serverOnly({ ...common, target, server: anchor, checkMetrics: false }));
        }
        const target = args.service.name;
        rows.push(
          args.pre.ok
            ? await this.serverOnly({
                ...common,
                target,
                server: args.service,
                checkMetrics: true,
                ...(args.units ? { units: args.units } : {}),
                ...(args.around ? { around: args.around } : {}),
              })
            : notMeasured({ ...common, target }, args.pre),
        );
      }
    }
    return rows;
  }

  /**
   * Server-only: h2load against `server` with one fixed body, after a short discarded warm-up.
   * For a service (metrics available), the finished calls are checked by code from `rpc_calls_total`,
   * since a gRPC error still answers HTTP 200 and h2load would count it as a success.
   */
  async serverOnly(args: {
    section: string;
    case: string;
    target: string;
    server: ServiceProcess;
    method: string;
    path: string;
    message: Uint8Array;
    protocol: WireProtocol;
    concurrency: number;
    /** Units (numbers, users) delivered per successful call. */
    units?: { perCall: number; name: string };
    checkMetrics: boolean;
    around?: Around;
  }): Promise<Row> {
    const base: Row = {
      section: args.section,
      case: args.case,
      target: args.target,
      method: args.method,
      protocol: args.protocol,
      concurrency: args.concurrency,
      status: "ok",
    };
    const bodyFile = this.bodyFile(wireBody(args.protocol, args.message));
    const common = {
      url: `${args.server.url}${args.path}`,
      bodyFile,
      headers: wireHeaders(args.protocol, args.path),
      clients: 1,
      streams: args.concurrency,
      logFile: join(this.dir, `h2load-${process.pid}.log`),
    };
    try {
      await h2load({ ...common, durationS: this.size.warmupSeconds });
      const before = args.checkMetrics ? await scrape(args.server.url) : [];
      const extraBefore = await args.around?.before();
      const cpu0 = serverCpuMs(args.server);
      const result = await h2load({ ...common, durationS: this.size.h2loadSeconds });
      const cpu1 = serverCpuMs(args.server);
      const extra = await args.around?.after(extraBefore, result.done);
      const row: Row = {
        ...base,
        requests: result.done,
        rps: result.rps,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        cpuUsPerCall: result.done > 0 ? ((cpu1 - cpu0) * 1000) / result.done : Number.NaN,
        ...(extra ? { notes: extra } : {}),
      };
      const failures: string[] = [];
      const non2xx = result.done - result.status["2xx"];
      if (non2xx > 0) failures.push(`${non2xx} non-2xx`);
      if (result.errored > 0) failures.push(`${result.errored} errored`);
      if (args.checkMetrics) {
        const after = await scrape(args.server.url);
        const codes = callDelta(before, after, args.method);
        for (const [code, n] of Object.entries(codes)) {
          // h2load -D resets the streams still in flight when time is up: at most one per stream slot.
          if (code === "ok" || (code === "canceled" && n <= args.concurrency)) continue;
          failures.push(`${n} ${code}`);
        }
        if (Object.keys(codes).length === 0) failures.push("no rpc_calls_total samples");
        row.status = failures.length === 0 ? "ok" : `errors: ${failures.join(", ")}`;
      } else if (failures.length > 0) row.status = `errors: ${failures.join(", ")}`;
      if (args.units && result.succeeded > 0) {
        row.unitsPerSec = result.rps * args.units.perCall;
        row.unit = args.units.name;
      }
      return row;
    } catch (error) {
      return { ...base, status: `ERROR ${(error as Error).message.split("\n")[0]}` };
    }
  }

  /** Raw HTTP/2 load with rotating bodies (see loadgen.ts), reported as a row. */
  async raw(args: {
    section: string;
    case: string;
    target: string;
    server: ServiceProcess;
    method: string;
    path: string;
    messages: readonly Uint8Array[];
    protocol: WireProtocol;
    concurrency: number;
    limit: Limit;
    units?: { perCall: number; name: string };
    around?: Around;
  }): Promise<Row> {
    const bodies = args.messages.map((m) => wireBody(args.protocol, m));
    const extraBefore = await args.around?.before();
    const cpu0 = serverCpuMs(args.server);
    const result = await rawLoad({
      baseUrl: args.server.url,
      path: args.path,
      protocol: args.protocol,
      bodies,
      concurrency: args.concurrency,
      limit: args.limit,
    });
    const cpu1 = serverCpuMs(args.server);
    const extra = await args.around?.after(extraBefore, result.requests);
    return {
      ...loadRow(args, result, cpu1 - cpu0, args.units),
      ...(extra ? { notes: extra } : {}),
    };
  }
}
