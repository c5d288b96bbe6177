import { sql } from "drizzle-orm";
import {
  bigint,
  char,
  index,
  mysqlEnum,
  mysqlTable,
  timestamp,
  tinyint,
  varchar,
} from "drizzle-orm/mysql-core";

/** Millisecond precision on both MySQL and MariaDB (a bare now() has whole seconds). */
export const now3 = sql`CURRENT_TIMESTAMP(3)`;

/**
 * The durable backup of every conversation's counter: a ceiling committed before any number up to
 * it is handed out, so allocation can always resume above it after Redis loses data.
 */
export const sequenceCeilings = mysqlTable(
  "sequence_ceilings",
  {
    /** SHA-256 (hex) of the conversation key: fixed length, whereas keys reach ~1.5 kB. */
    id: char("id", { length: 64 }).primaryKey(),
    type: mysqlEnum("type", ["private", "group"]).notNull(),
    /** The group id, or the smaller user id of a private chat: lets a row be shown as a Conversation. */
    partA: varchar("part_a", { length: 256 }).notNull(),
    /** The larger user id of a private chat; null for a group. */
    partB: varchar("part_b", { length: 256 }),
    ceiling: bigint("ceiling", { mode: "number", unsigned: true }).notNull(),
    updatedAt: timestamp("updated_at", { fsp: 3, mode: "date" }).notNull().default(now3),
  },
  (table) => [index("sequence_ceilings_type_id").on(table.type, table.id)],
);

/**
 * One row: the epoch every Redis counter is fenced with, and the Redis server identity it belongs
 * to. A new identity (restart, failover) bumps the epoch, turning every older counter into "missing".
 */
export const sequenceEpoch = mysqlTable("sequence_epoch", {
  id: tinyint("id").primaryKey(),
  epoch: bigint("epoch", { mode: "number", unsigned: true }).notNull(),
  redisIdentity: varchar("redis_identity", { length: 1024 }).notNull(),
  updatedAt: timestamp("updated_at", { fsp: 3, mode: "date" }).notNull().default(now3),
});
