import { runService } from "@im-core/service-kit";
import { loadSequenceConfig } from "./config.js";
import { createSequenceServer } from "./server.js";

await runService("sequence", async (logger) => {
  const config = loadSequenceConfig(process.env);
  // Placeholder until the Redis and MySQL stores land: they provide the real readiness checks.
  const server = createSequenceServer({ logger, readiness: [] });
  const address = await server.listen(config.port, config.host);
  return {
    url: `http://${address.address}:${address.port}`,
    close: () => server.close(),
  };
});
