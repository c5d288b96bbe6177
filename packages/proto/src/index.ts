// The clients gateways and routers import: `createClient(RegistryService, transport)`.
export * from "./gen/im/registry/v1/registry_pb.js";
export * from "./gen/im/sequence/v1/sequence_pb.js";
