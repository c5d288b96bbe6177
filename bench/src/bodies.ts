import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { grpcFrame } from "@im-core/testkit";

export type WireProtocol = "grpc" | "connect";

/** Protobuf bytes of `init` as a `schema` message, built with the generated schemas of @im-core/proto. */
export function encode<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** The request body as sent on the wire: a gRPC frame, or the bare message for Connect unary (binary). */
export function wireBody(protocol: WireProtocol, bytes: Uint8Array): Buffer {
  return protocol === "grpc" ? grpcFrame(bytes) : Buffer.from(bytes);
}

/**
 * The services run with auth on, as in production (servers.ts gives them these tokens): every call of
 * the bench carries the token of a caller allowed to make it, a router's for the calls only routers may
 * make, a gateway's (acting for any node) for the rest. The anchors ignore the header.
 */
const BENCH_TOKENS = { gateway: "bench-gateway-token-0000", router: "bench-router-token-00000" } as const;
export const benchAuthTokens = `${BENCH_TOKENS.gateway}:gateway@*,${BENCH_TOKENS.router}:router`;
const routerOnly = new Set(["BatchLookup", "Watch"]);

/** The `authorization` header for a call of `method` (its local name, e.g. "Lookup"). */
export function bearerFor(method: string): string {
  return `Bearer ${routerOnly.has(method) ? BENCH_TOKENS.router : BENCH_TOKENS.gateway}`;
}

/** Request headers for h2load (`-H name: value`) and for the raw HTTP/2 load generator. */
export function wireHeaders(protocol: WireProtocol, path: string): Record<string, string> {
  const authorization = bearerFor(path.slice(path.lastIndexOf("/") + 1));
  return protocol === "grpc"
    ? { "content-type": "application/grpc", te: "trailers", authorization }
    : { "content-type": "application/proto", "connect-protocol-version": "1", authorization };
}
