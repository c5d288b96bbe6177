export { migrateDatabase, migrationsFolder } from "./migrate.js";
export {
  connectionLimitOf,
  createMySqlPool,
  DEFAULT_CONNECTION_LIMIT,
  type MySqlPoolOptions,
  MySqlProbeConnection,
  pingMySqlOnce,
} from "./pool.js";
export { sequenceCeilings, sequenceEpoch } from "./schema.js";
export type { LockedWork, SeedBatchStepHook } from "./seed-batches.js";
export {
  type BackupConversation,
  type CeilingRow,
  type ConversationType,
  DEFAULT_SEED_BATCH_BYTES,
  DEFAULT_SEED_BATCH_ROWS,
  EpochFencedError,
  type LockOptions,
  MySqlSequenceBackup,
  RESERVED_HEADROOM,
  type Reservation,
  type Reserve,
  type SequenceBackupOptions,
} from "./sequence-backup.js";
export { Slots } from "./slots.js";
