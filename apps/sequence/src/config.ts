import { ConfigError, envHost, envInt, envPort, envUrl, parseEnv } from "@im-core/service-kit";
import type { RedisTarget } from "@im-core/stores/redis";
import { z } from "zod";

export const mysqlUrlVar = envUrl("mysql://root@127.0.0.1:3306/im", ["mysql:"]);

const CLUSTER_SCHEMES = ["redis:", "rediss:"];

/**
 * REDIS_CLUSTER_NODES: comma-separated seeds, `host:port` or `redis://[user:password@]host:port`
 * (`rediss://` for TLS). Any reachable seed lets the client discover the whole cluster; credentials
 * and TLS apply to every node, so the seeds must agree on them.
 */
const clusterNodesVar = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "")
      .map((item) => (item.includes("://") ? item : `redis://${item}`)),
  )
  .refine(
    (seeds) =>
      seeds.length > 0 &&
      seeds.every((seed) => {
        if (!URL.canParse(seed)) return false;
        const url = new URL(seed);
        return (
          CLUSTER_SCHEMES.includes(url.protocol) &&
          url.hostname !== "" &&
          ["", "/", "/0"].includes(url.pathname)
        );
      }),
    { error: "must be comma-separated host:port or redis://host:port seeds of the cluster's nodes" },
  )
  .refine(
    (seeds) =>
      new Set(seeds.map((seed) => new URL(seed)).map((u) => `${u.protocol}${u.username}:${u.password}`))
        .size <= 1,
    { error: "all seeds must use the same scheme and credentials" },
  )
  .optional();

/**
 * New conversations (first touches, each a MySQL lock round) one token may start per second; ten
 * seconds' worth may come at once. MySQL serves a few hundred per second per instance.
 */
export const DEFAULT_NEW_CONVERSATION_RATE = 100;

/** The sequence service's environment (docs/operations.md lists every variable). */
export function loadSequenceConfig(env: NodeJS.ProcessEnv = process.env) {
  const vars = parseEnv(
    {
      HOST: envHost(),
      PORT: envPort(8082),
      REDIS_URL: envUrl("redis://127.0.0.1:6379", ["redis:", "rediss:"]),
      REDIS_CLUSTER_NODES: clusterNodesVar,
      MYSQL_URL: mysqlUrlVar,
      SEQUENCE_STEP: envInt(10_000, 10, 1_000_000_000),
      SEQUENCE_NEW_CONVERSATION_RATE: envInt(DEFAULT_NEW_CONVERSATION_RATE, 1, 1_000_000),
    },
    env,
  );
  if (vars.REDIS_CLUSTER_NODES && env.REDIS_URL) {
    throw new ConfigError(
      "invalid configuration:\n  REDIS_URL, REDIS_CLUSTER_NODES: set one of them (a single server or a cluster), not both",
    );
  }
  const redis: RedisTarget = vars.REDIS_CLUSTER_NODES
    ? { cluster: vars.REDIS_CLUSTER_NODES }
    : { url: vars.REDIS_URL };
  return {
    host: vars.HOST,
    port: vars.PORT,
    redis,
    mysqlUrl: vars.MYSQL_URL,
    step: vars.SEQUENCE_STEP,
    newConversationRate: vars.SEQUENCE_NEW_CONVERSATION_RATE,
  };
}

export type SequenceConfig = ReturnType<typeof loadSequenceConfig>;
