import { SequenceService } from "@im-core/proto";
import { loadServerSettings, runService, ServiceMetrics } from "@im-core/service-kit";
import { openSequenceBackends } from "./backends.js";
import { loadSequenceConfig } from "./config.js";
import { createSequenceServer } from "./server.js";

await runService("sequence", async (logger) => {
  const config = loadSequenceConfig(process.env);
  const settings = loadServerSettings(process.env);
  // Made here, not by the server, so the backends can count into it before the server exists.
  const metrics = new ServiceMetrics(SequenceService.typeName);
  const backends = await openSequenceBackends(config, logger, { metrics });
  const server = createSequenceServer({ logger, settings, metrics, ...backends });
  const address = await server.listen(config.port, config.host);
  return {
    url: `${settings.tls ? "https" : "http"}://${address.address}:${address.port}`,
    shutdownGraceMs: settings.shutdownGraceMs,
    close: async () => {
      await server.close();
      await backends.close();
    },
  };
});
