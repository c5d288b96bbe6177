import { ConfigError } from "@im-core/service-kit";
import { describe, expect, it } from "vitest";
import { loadSequenceConfig } from "./config.js";

describe("configuration", () => {
  it("defaults to one Redis server", () => {
    expect(loadSequenceConfig({}).redis).toEqual({ url: "redis://127.0.0.1:6379" });
  });

  it("REDIS_CLUSTER_NODES points at a Redis Cluster: host:port or redis:// seeds", () => {
    expect(loadSequenceConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001" }).redis).toEqual({
      cluster: ["redis://10.0.0.1:7000", "redis://redis-b:7001"],
    });
    expect(
      loadSequenceConfig({ REDIS_CLUSTER_NODES: "rediss://:pw@a:7000,rediss://:pw@b:7000" }).redis,
    ).toEqual({ cluster: ["rediss://:pw@a:7000", "rediss://:pw@b:7000"] });
  });

  it.each([
    [
      { REDIS_CLUSTER_NODES: "," },
      "REDIS_CLUSTER_NODES: must be comma-separated host:port or redis://host:port",
    ],
    [{ REDIS_CLUSTER_NODES: "http://a:1" }, "REDIS_CLUSTER_NODES: must be comma-separated"],
    [{ REDIS_CLUSTER_NODES: "redis://a:1/3" }, "REDIS_CLUSTER_NODES: must be comma-separated"],
    [
      { REDIS_CLUSTER_NODES: "redis://:x@a:1,redis://:y@b:1" },
      "REDIS_CLUSTER_NODES: all seeds must use the same scheme and credentials",
    ],
    [
      { REDIS_URL: "redis://a:1", REDIS_CLUSTER_NODES: "b:1" },
      "REDIS_URL, REDIS_CLUSTER_NODES: set one of them",
    ],
    [{ REDIS_URL: "http://a" }, "REDIS_URL: must be a URL with scheme redis or rediss"],
  ])("a bad Redis setting stops start-up naming the variable: %j", (env, message) => {
    expect(() => loadSequenceConfig(env)).toThrow(ConfigError);
    expect(() => loadSequenceConfig(env)).toThrow(message);
  });
});
