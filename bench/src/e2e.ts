import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { ServiceProcess } from "@im-core/testkit";
import { bearerFor } from "./bodies.js";
import type { Bench } from "./context.js";
import { closedLoop } from "./loadgen.js";
import { serverCpuMs } from "./procs.js";
import { loadRow } from "./rows.js";
import type { Row } from "./table.js";

export type TransportKind = "grpc" | "connect";

/** The generated client over HTTP/2, as gateways and routers use it, with the caller's token. */
export function client<S extends DescService>(
  service: S,
  baseUrl: string,
  kind: TransportKind = "grpc",
): Client<S> {
  const interceptors: Interceptor[] = [
    (next) => (request) => {
      request.header.set("authorization", bearerFor(request.method.name));
      return next(request);
    },
  ];
  const transport =
    kind === "grpc"
      ? createGrpcTransport({ baseUrl, interceptors })
      : createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors });
  return createClient(service, transport);
}

/** End-to-end rows: the generated client at concurrency 1, 16, 64 with both transports. */
export async function e2eRows<S extends DescService>(
  bench: Bench,
  server: ServiceProcess,
  service: S,
  label: string,
  method: string,
  call: (c: Client<S>, i: number) => Promise<unknown>,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const kind of ["grpc", "connect"] as const) {
    const c = client(service, server.url, kind);
    await closedLoop(16, { requests: 200 }, async (i) => {
      await call(c, i);
      return undefined;
    });
    for (const concurrency of [1, 16, 64]) {
      const cpu0 = serverCpuMs(server);
      const result = await closedLoop(concurrency, { durationMs: bench.size.e2eMs }, async (i) => {
        await call(c, i);
        return undefined;
      });
      rows.push(
        loadRow(
          { section: "e2e client", case: label, target: server.name, method, protocol: kind, concurrency },
          result,
          serverCpuMs(server) - cpu0,
        ),
      );
    }
  }
  return rows;
}
