import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService, SequenceService } from "@im-core/proto";

export type RegistryClient = Client<typeof RegistryService>;
export type SequenceClient = Client<typeof SequenceService>;

const withToken =
  (token: string): Interceptor =>
  (next) =>
  (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };

/** gRPC over HTTP/2, one connection per client, as a gateway or router process would hold. */
function transport(baseUrl: string, token: string) {
  return createGrpcTransport({
    baseUrl,
    interceptors: [withToken(token)],
    // Notice a dead or cut-off instance in seconds rather than at the call's deadline.
    pingIntervalMs: 3_000,
    pingTimeoutMs: 2_000,
  });
}

/** One registry client per instance, on connections of the caller's own. */
export function registryClients(urls: readonly string[], token: string): RegistryClient[] {
  return urls.map((url) => createClient(RegistryService, transport(url, token)));
}

export function sequenceClients(urls: readonly string[], token: string): SequenceClient[] {
  return urls.map((url) => createClient(SequenceService, transport(url, token)));
}
