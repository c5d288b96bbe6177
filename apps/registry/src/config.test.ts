import { ConfigError } from "@im-core/service-kit";
import { describe, expect, it } from "vitest";
import { loadRegistryConfig } from "./config.js";

describe("configuration", () => {
  it("has the documented defaults", () => {
    expect(loadRegistryConfig({})).toEqual({
      host: "127.0.0.1",
      port: 8081,
      etcdEndpoints: ["http://127.0.0.1:2379"],
      ttlSeconds: 90,
      maxDevices: 5,
      devicePolicy: "reject",
      watchBacklog: 10_000,
      leaseGrantRate: 100,
    });
  });

  it("reads every variable", () => {
    expect(
      loadRegistryConfig({
        ETCD_ENDPOINTS: "http://etcd-0:2379, https://etcd-1:2379",
        REGISTRY_TTL_SECONDS: "30",
        REGISTRY_MAX_DEVICES: "2",
        REGISTRY_DEVICE_POLICY: "evict_oldest",
        REGISTRY_WATCH_BACKLOG: "500",
      }),
    ).toMatchObject({
      etcdEndpoints: ["http://etcd-0:2379", "https://etcd-1:2379"],
      ttlSeconds: 30,
      maxDevices: 2,
      devicePolicy: "evict_oldest",
      watchBacklog: 500,
    });
  });

  it.each([
    [
      { ETCD_ENDPOINTS: "etcd-0:2379" },
      "ETCD_ENDPOINTS: must be comma-separated URLs with scheme http or https",
    ],
    [{ REGISTRY_TTL_SECONDS: "0" }, "REGISTRY_TTL_SECONDS: must be at least 1"],
    [{ REGISTRY_MAX_DEVICES: "many" }, "REGISTRY_MAX_DEVICES: must be an integer"],
    [{ REGISTRY_DEVICE_POLICY: "evict" }, "REGISTRY_DEVICE_POLICY: must be one of reject, evict_oldest"],
    [{ REGISTRY_WATCH_BACKLOG: "10" }, "REGISTRY_WATCH_BACKLOG: must be at least 100"],
  ])("a bad setting stops start-up naming the variable: %j", (env, message) => {
    expect(() => loadRegistryConfig(env)).toThrow(ConfigError);
    expect(() => loadRegistryConfig(env)).toThrow(message);
  });
});
