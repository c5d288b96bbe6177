import { loadServerSettings, runService } from "@im-core/service-kit";
import { openBackends } from "./backends.js";
import { loadRegistryConfig } from "./config.js";
import { createRegistryServer } from "./server.js";

await runService("registry", async (logger) => {
  const config = loadRegistryConfig(process.env);
  const settings = loadServerSettings(process.env);
  const backends = await openBackends(config, logger);
  const server = createRegistryServer({ logger, settings, ...backends });
  const address = await server.listen(config.port, config.host);
  return {
    url: `${settings.tls ? "https" : "http"}://${address.address}:${address.port}`,
    shutdownGraceMs: settings.shutdownGraceMs,
    async close() {
      await server.close();
      backends.close();
    },
  };
});
