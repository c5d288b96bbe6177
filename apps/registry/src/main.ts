import { RegistryService } from "@im-core/proto";
import {
  loadServerSettings,
  runService,
  ServiceMetrics,
  serve,
  useNodeTextEncoding,
} from "@im-core/service-kit";
import { openRegistryBackends } from "./backends.js";
import { loadRegistryConfig } from "./config.js";
import { createRegistryServer } from "./server.js";

useNodeTextEncoding();

await runService("registry", async (logger) => {
  const config = loadRegistryConfig(process.env);
  const settings = loadServerSettings(process.env);
  // Made here, not by the server, so the backends can count into it before the server exists.
  const metrics = new ServiceMetrics(RegistryService.typeName);
  const backends = openRegistryBackends(config, logger, { metrics });
  const server = createRegistryServer({ logger, settings, metrics, backends });
  return serve(server, config, settings, () => backends.close());
});
