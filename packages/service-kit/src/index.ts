export { ConfigError, envEnum, envHost, envInt, envPort, envUrl, envUrlList, parseEnv } from "./config.js";
export { errorMappingInterceptor, toConnectError } from "./errors.js";
export { checkReadiness, type ReadinessCheck, type ReadinessReport } from "./health.js";
export { createLogger, type Logger } from "./logger.js";
export { type RunningService, runService } from "./run.js";
export { OnePortServer, type OnePortServerOptions } from "./server/one-port.js";
export {
  createServiceServer,
  type ServiceServer,
  type ServiceServerOptions,
} from "./server/service-server.js";
