import { SequenceService } from "@im-core/proto";
import {
  loadServerSettings,
  runService,
  ServiceMetrics,
  serve,
  useNodeTextEncoding,
} from "@im-core/service-kit";
import { openSequenceBackends } from "./backends.js";
import { loadSequenceConfig } from "./config.js";
import { createSequenceServer } from "./server.js";

useNodeTextEncoding();

await runService("sequence", async (logger) => {
  const config = loadSequenceConfig(process.env);
  const settings = loadServerSettings(process.env);
  // Made here, not by the server, so the backends can count into it before the server exists.
  const metrics = new ServiceMetrics(SequenceService.typeName);
  const backends = await openSequenceBackends(config, logger, { metrics });
  const server = createSequenceServer({ logger, settings, metrics, backends });
  return serve(server, config, settings, () => backends.close());
});
