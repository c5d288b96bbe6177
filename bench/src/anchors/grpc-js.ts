// Anchor 3: @grpc/grpc-js serving the same .proto files (loaded with @grpc/proto-loader), constant
// responses: the reference gRPC server for Node.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const port = Number(process.env.PORT);
const protoRoot = fileURLToPath(new URL("../../../proto", import.meta.url));

const definition = protoLoader.loadSync(["im/sequence/v1/sequence.proto", "im/registry/v1/registry.proto"], {
  includeDirs: [protoRoot],
  longs: String,
  defaults: false,
});
// biome-ignore lint/suspicious/noExplicitAny: the package object is untyped by nature
const pkg = grpc.loadPackageDefinition(definition) as any;
const device = {
  userId: "bench-u0",
  deviceId: "d0",
  gatewayNode: "gw-bench:9000",
  leaseId: "7587000000000000000",
};

type Unary = (call: unknown, callback: grpc.sendUnaryData<unknown>) => void;
const constant =
  (value: unknown): Unary =>
  (_call, callback) =>
    callback(null, value);

const server = new grpc.Server();
server.addService(pkg.im.sequence.v1.SequenceService.service, {
  Next: constant({ first: 1, last: 1 }),
  Current: constant({ sequence: 1 }),
  BatchNext: constant({}),
  ListSnapshots: constant({}),
});
server.addService(pkg.im.registry.v1.RegistryService.service, {
  GrantLease: constant({}),
  Register: constant({}),
  Renew: constant({}),
  Unregister: constant({}),
  RevokeLease: constant({}),
  Lookup: constant({ devices: [device], revision: 1 }),
  BatchLookup: constant({}),
  Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
});
server.bindAsync(`${process.env.HOST}:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
});
process.on("SIGTERM", () => process.exit(0));
