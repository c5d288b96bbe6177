/**
 * Real, private backing servers for tests (and the local-dev script): etcd, Redis and MariaDB processes
 * on loopback, each with its own ports and data dir, with fault controls (stop, kill -9, restart, wipe,
 * pause/resume), and the one way to run a service as its own node process. Everything started is killed
 * when the owning process exits, is interrupted, or is SIGKILLed (a detached watchdog per server).
 * See README.md in this package.
 */
export { gatewayArb, ID_MAX_BYTES, idArb, invalidIdArb, isValidId } from "./arbitraries.js";
export { resolveBinary } from "./binaries.js";
export { cleanEnv } from "./environment.js";
export {
  type EtcdCluster,
  type EtcdClusterOptions,
  type EtcdOptions,
  type EtcdServer,
  etcdJson,
  startEtcd,
  startEtcdCluster,
} from "./etcd.js";
export { eventually } from "./eventually.js";
export { type HttpGetOptions, httpGet } from "./http-get.js";
export { type MariaDbServer, startMariaDb } from "./mariadb.js";
export { freePorts, HOST, isPortFree } from "./ports.js";
export { type ReadinessSeen, readinessSeen } from "./probes.js";
export { grpcFrame, type Http2Answer, http2Exchange, openGrpcStream, rawGrpcCall } from "./raw-grpc.js";
export {
  type RedisCluster,
  type RedisOptions,
  type RedisServer,
  startRedis,
  startRedisCluster,
} from "./redis.js";
export { redisCommand } from "./resp.js";
export type { ServerOptions, ServerProcess } from "./server-process.js";
export { type ServiceOptions, type ServiceProcess, startService } from "./service.js";
export { type ServicePair, startServicePair } from "./service-pair.js";
export { chromiumLaunchOptions, filesOf, type StaticSite, serveStatic } from "./static-site.js";
export { kindOf } from "./store-errors.js";
export { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
