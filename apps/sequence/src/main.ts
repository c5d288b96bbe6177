import { loadServerSettings, runService } from "@im-core/service-kit";
import { openSequenceBackends } from "./backends.js";
import { loadSequenceConfig } from "./config.js";
import { createSequenceServer } from "./server.js";

await runService("sequence", async (logger) => {
  const config = loadSequenceConfig(process.env);
  const settings = loadServerSettings(process.env);
  const backends = await openSequenceBackends(config, logger);
  const server = createSequenceServer({ logger, settings, ...backends });
  const address = await server.listen(config.port, config.host);
  return {
    url: `${settings.tls ? "https" : "http"}://${address.address}:${address.port}`,
    close: async () => {
      await server.close();
      await backends.close();
    },
  };
});
