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

/** Request headers for h2load (`-H name: value`) and for the raw HTTP/2 load generator. */
export function wireHeaders(protocol: WireProtocol): Record<string, string> {
  return protocol === "grpc"
    ? { "content-type": "application/grpc", te: "trailers" }
    : { "content-type": "application/proto", "connect-protocol-version": "1" };
}
