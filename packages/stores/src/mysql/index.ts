export { migrateDatabase, migrationsFolder } from "./migrate.js";
export { createMySqlPool, type MySqlPoolOptions } from "./pool.js";
export { sequenceCeilings, sequenceEpoch } from "./schema.js";
export {
  type BackupConversation,
  type ConversationType,
  EpochFencedError,
  MySqlSequenceBackup,
  type Reservation,
  type Reserve,
  type SequenceBackupOptions,
  type Snapshot,
} from "./sequence-backup.js";
