import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { MariaDbServer } from "@im-core/testkit";
import type { Around } from "./rows.js";

const run = promisify(execFile);

/** A Redis server's memory in use (`INFO memory` used_memory) and its key count. */
async function redisSize(port: number): Promise<{ bytes: number; keys: number }> {
  const cli = (...args: string[]) => run("redis-cli", ["-p", String(port), ...args]);
  const info = (await cli("INFO", "memory")).stdout;
  const bytes = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
  const keys = Number((await cli("DBSIZE")).stdout.trim());
  return { bytes, keys };
}

/** Rows and on-disk size (data + indexes, as InnoDB reports them after ANALYZE) of the ceilings table. */
async function ceilingsSize(db: MariaDbServer, database: string): Promise<{ rows: number; bytes: number }> {
  await db.query("ANALYZE TABLE sequence_ceilings", database);
  const rows = Number((await db.query("SELECT COUNT(*) FROM sequence_ceilings", database)).trim());
  const bytes = Number(
    (
      await db.query(
        `SELECT data_length + index_length FROM information_schema.tables
         WHERE table_schema = '${database}' AND table_name = 'sequence_ceilings'`,
        database,
      )
    ).trim(),
  );
  return { rows, bytes };
}

/**
 * What each conversation touched for the first time between before() and after() costs in storage: Redis
 * bytes per conversation (its counter hash), and MySQL rows and bytes per conversation (its ceiling row).
 * `calls` is the number of conversations touched.
 */
export function storageFootprint(deps: {
  mariadb: MariaDbServer;
  database: string;
  redisPort: number;
}): Around {
  const read = async () => ({
    redis: await redisSize(deps.redisPort),
    mysql: await ceilingsSize(deps.mariadb, deps.database),
  });
  return {
    before: read,
    async after(before: Awaited<ReturnType<typeof read>>, conversations: number) {
      const after = await read();
      const per = (delta: number) => Math.round(delta / conversations);
      return {
        "redis keys": after.redis.keys,
        "redis MB": (after.redis.bytes / 1e6).toFixed(1),
        "redis B/conv": per(after.redis.bytes - before.redis.bytes),
        "mysql rows": after.mysql.rows,
        "mysql MB": (after.mysql.bytes / 1e6).toFixed(1),
        "mysql B/conv": per(after.mysql.bytes - before.mysql.bytes),
      };
    },
  };
}
