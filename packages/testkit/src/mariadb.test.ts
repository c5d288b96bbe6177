import { describe, expect, test } from "vitest";
import { startMariaDb } from "./index.js";

describe.concurrent("startMariaDb", () => {
  test("keeps committed rows across kill -9; a wiped restart loses them", async () => {
    await using db = await startMariaDb();
    const url = await db.createDatabase("app");
    expect(url).toBe(`mysql://root@127.0.0.1:${db.port}/app`);
    await db.query(
      "CREATE TABLE t (id VARCHAR(64) PRIMARY KEY, n BIGINT); INSERT INTO t VALUES ('😀/a', 42)",
      "app",
    );
    expect(await db.query("SELECT id, n FROM t", "app")).toBe("😀/a\t42");

    const pid = db.pid;
    await db.kill();
    await db.restart();
    expect(db.pid).not.toBe(pid);
    expect(await db.query("SELECT n FROM t", "app")).toBe("42");

    await db.restart({ wipe: true });
    expect(await db.query("SHOW DATABASES LIKE 'app'")).toBe("");
    expect(await db.query("SELECT 1")).toBe("1");
  });

  test("creates uniquely named databases and reports SQL errors", async () => {
    await using db = await startMariaDb();
    const [a, b] = await Promise.all([db.createDatabase(), db.createDatabase()]);
    expect(a).not.toBe(b);
    await db.query("CREATE TABLE t (n INT); INSERT INTO t VALUES (7)", a.split("/").pop());
    expect(await db.createDatabase(a.split("/").pop())).toBe(a);
    expect(await db.query("SELECT n FROM t", a.split("/").pop())).toBe("7");
    expect(await db.query("SELECT @@character_set_server")).toBe("utf8mb4");
    await expect(db.query("SELECT * FROM nope.nope")).rejects.toThrow(/nope/);
    await expect(db.createDatabase("bad name")).rejects.toThrow(/invalid database name/);
  });
});
