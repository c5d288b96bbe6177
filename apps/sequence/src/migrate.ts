// `pnpm --dir apps/sequence migrate`: applies pending MySQL migrations and exits (the service also
// applies them at start-up; this is for deploy pipelines that migrate first).
import { parseEnv } from "@im-core/service-kit";
import { createMySqlPool, migrateDatabase } from "@im-core/stores/mysql";
import { mysqlUrlVar } from "./config.js";

const { MYSQL_URL } = parseEnv({ MYSQL_URL: mysqlUrlVar });
const pool = createMySqlPool(MYSQL_URL);
try {
  await migrateDatabase(pool);
  process.stdout.write("migrations applied\n");
} finally {
  await pool.end();
}
