// Anchor 2: connectNodeAdapter on a plain http2 server, same services and proto, handlers that return a
// constant response without any work and no interceptors: what Connect itself costs per call.
import { createServer } from "node:http2";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { DeviceLocationSchema, RegistryService, SequenceService } from "@im-core/proto";

const port = Number(process.env.PORT);
const device = create(DeviceLocationSchema, {
  userId: "bench-u0",
  deviceId: "d0",
  gatewayNode: "gw-bench:9000",
  leaseId: 7587000000000000000n,
});

const routes = (router: ConnectRouter) => {
  router.service(SequenceService, {
    next: () => ({ first: 1n, last: 1n }),
    current: () => ({ sequence: 1n }),
    batchNext: () => ({}),
    listSnapshots: () => ({}),
  });
  router.service(RegistryService, {
    grantLease: () => ({}),
    register: () => ({}),
    renew: () => ({}),
    unregister: () => ({}),
    revokeLease: () => ({}),
    lookup: () => ({ devices: [device], revision: 1n }),
    batchLookup: () => ({}),
    async *watch() {},
  });
};

const server = createServer(connectNodeAdapter({ routes }));
server.listen(port, process.env.HOST);
process.on("SIGTERM", () => process.exit(0));
