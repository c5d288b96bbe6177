import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "./binaries.js";
import { redisCommand, resolveBinary, startRedis, startRedisCluster } from "./index.js";

const runId = async (r: { command(...a: string[]): Promise<string | null> }) =>
  /run_id:(\w+)/.exec((await r.command("INFO", "server")) ?? "")?.[1];

describe.concurrent("startRedis", () => {
  test("loses keys on kill -9 and restart (no persistence), on the same port", async () => {
    await using redis = await startRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    await redis.command("SET", "k", "v");
    expect(await redis.command("GET", "k")).toBe("v");
    const [pid, port, before] = [redis.pid, redis.port, await runId(redis)];
    await redis.kill();
    await redis.restart();
    expect(redis.pid).not.toBe(pid);
    expect(redis.port).toBe(port);
    expect(await redis.command("GET", "k")).toBeNull();
    expect(await runId(redis)).not.toBe(before);
  });

  test("restart with wipe empties the data dir", async () => {
    await using redis = await startRedis();
    await redis.command("SET", "k", "v");
    await redis.command("SAVE");
    expect(readdirSync(redis.dataDir)).toContain("dump.rdb");
    await redis.restart({ wipe: true });
    expect(readdirSync(redis.dataDir)).not.toContain("dump.rdb");
    expect(await redis.command("DBSIZE")).toBe("0");
  });

  test("flushAll removes every key and keeps the server (same run_id)", async () => {
    await using redis = await startRedis();
    await redis.command("MSET", "a", "1", "b", "2");
    const before = await runId(redis);
    await redis.flushAll();
    expect(await redis.command("DBSIZE")).toBe("0");
    expect(await runId(redis)).toBe(before);
  });

  test("pause makes PING time out, resume answers again", async () => {
    await using redis = await startRedis();
    redis.pause();
    await expect(redisCommand(redis.port, ["PING"], { timeoutMs: 300 })).rejects.toThrow(/did not answer/);
    redis.resume();
    expect(await redisCommand(redis.port, ["PING"], { timeoutMs: 1000 })).toBe("PONG");
  });

  test("replicaOf copies the primary, NO ONE promotes", async () => {
    await using primary = await startRedis();
    await using replica = await startRedis();
    await primary.command("SET", "x", "1");
    await replica.replicaOf(primary);
    expect(await replica.command("GET", "x")).toBe("1");
    await expect(replica.command("SET", "y", "1")).rejects.toThrow(/READONLY/);
    await replica.replicaOf(null);
    expect(await replica.command("SET", "y", "1")).toBe("OK");
  });

  test("a server that cannot start fails with the tail of its log", async () => {
    await expect(startRedis({ extraArgs: ["--no-such-option", "x"] })).rejects.toThrow(
      /redis exited during start-up[\s\S]*no-such-option/,
    );
  });

  test("fixed port and persistent dataDir: the local-dev mode", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "testkit-local-"));
    try {
      const first = await startRedis({ dataDir, persistence: true });
      const port = first.port;
      await first.command("SET", "kept", "yes");
      await expect(startRedis({ port })).rejects.toThrow(/already in use/);
      await first.stop();
      await first.dispose();
      await using second = await startRedis({ dataDir, port, persistence: true });
      expect(second.port).toBe(port);
      expect(await second.command("GET", "kept")).toBe("yes");
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("startRedisCluster", () => {
  test("reaches cluster_state:ok and routes keys with redis-cli -c", async () => {
    await using cluster = await startRedisCluster();
    expect(cluster.startupNodes).toHaveLength(3);
    for (const node of cluster.nodes)
      expect(await node.command("CLUSTER", "INFO")).toContain("cluster_state:ok");
    const cli = resolveBinary("redis-cli", "redis-tools");
    const [a, b] = cluster.nodes;
    for (const key of ["foo", "bar", "{user}:1"]) {
      expect((await run(cli, ["-c", "-p", String(a!.port), "SET", key, `v-${key}`])).trim()).toBe("OK");
      expect((await run(cli, ["-c", "-p", String(b!.port), "GET", key])).trim()).toBe(`v-${key}`);
    }
  });
});
