export { ConfigError, envEnum, envHost, envInt, envPort, envUrl, envUrlList, parseEnv } from "./config.js";
export { errorMappingInterceptor, toConnectError } from "./errors.js";
export { checkReadiness, type ReadinessCheck, type ReadinessReport } from "./health.js";
export { deadlineInterceptor } from "./limits/deadline-interceptor.js";
export { RateLimiter, rateLimited } from "./limits/rate-limiter.js";
export { streamLimitInterceptor } from "./limits/stream-limit-interceptor.js";
export { createLogger, type Logger } from "./logger.js";
export { ServiceMetrics } from "./observability/metrics.js";
export { type RunningService, runService, serve } from "./run.js";
export { type AccessPolicy, authenticate, bearerToken, callerKey } from "./security/auth-interceptor.js";
export { createCors } from "./security/cors.js";
export {
  actsFor,
  type Caller,
  parseTokens,
  ROLES,
  type Role,
  type TokenEntry,
  TokenTable,
} from "./security/tokens.js";
export { OnePortServer, type OnePortServerOptions } from "./server/one-port.js";
export {
  createServiceServer,
  type ServiceServer,
  type ServiceServerOptions,
} from "./server/service-server.js";
export { useNodeTextEncoding } from "./server/text-encoding.js";
export { defaultLimits, loadServerSettings, type ServerSettings } from "./settings.js";
export { ID_MAX_BYTES, invalidArgument, validateId } from "./validation.js";
