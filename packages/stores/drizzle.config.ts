import { defineConfig } from "drizzle-kit";

// Only `generate` is used: push/pull are broken against MariaDB 10.11, and migrations are
// committed SQL applied by migrate() (see src/mysql/migrate.ts).
export default defineConfig({
  dialect: "mysql",
  schema: "./src/mysql/schema.ts",
  out: "./drizzle",
});
