import { envHost, envInt, envPort, envUrl, parseEnv } from "@im-core/service-kit";

export const mysqlUrlVar = envUrl("mysql://root@127.0.0.1:3306/im", ["mysql:"]);

/** The sequence service's environment (see DESIGN.md, "Configuration"). */
export function loadSequenceConfig(env: NodeJS.ProcessEnv = process.env) {
  const vars = parseEnv(
    {
      HOST: envHost(),
      PORT: envPort(8082),
      REDIS_URL: envUrl("redis://127.0.0.1:6379", ["redis:", "rediss:"]),
      MYSQL_URL: mysqlUrlVar,
      SEQUENCE_STEP: envInt(10_000, 10, 1_000_000_000),
    },
    env,
  );
  return {
    host: vars.HOST,
    port: vars.PORT,
    redisUrl: vars.REDIS_URL,
    mysqlUrl: vars.MYSQL_URL,
    step: vars.SEQUENCE_STEP,
  };
}

export type SequenceConfig = ReturnType<typeof loadSequenceConfig>;
