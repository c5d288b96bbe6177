import { createHash, randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { cp, mkdtemp, rename, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { resolveBinary, run } from "./binaries.js";
import { ManagedServer } from "./managed-server.js";
import { HOST } from "./ports.js";
import type { LaunchContext, ServerOptions, ServerProcess } from "./server-process.js";

/** A private MariaDB 10.11 server; user `root` without password over TCP. */
export interface MariaDbServer extends ServerProcess {
  readonly host: string;
  readonly port: number;
  /** Unix socket of the server (`<home>/mariadbd.sock`). */
  readonly socketPath: string;
  /** `mysql://root@127.0.0.1:<port>/<database>` (no path without `database`), for mysql2 / drizzle. */
  url(database?: string): string;
  /**
   * Creates a database (utf8mb4) and returns its {@link MariaDbServer.url}. Default name: `test_<random>`,
   * so concurrent tests on one server do not collide. Names are limited to `[A-Za-z0-9_]`. An existing
   * database is kept as is, so a local-dev script can call this on every start.
   */
  createDatabase(name?: string): Promise<string>;
  /**
   * Runs SQL with the `mariadb` command-line client (`--batch --skip-column-names`) and returns its output:
   * one line per row, columns separated by tabs. Rejects with the client's error message.
   */
  query(sql: string, database?: string): Promise<string>;
}

// Same values for the template and every server: InnoDB refuses a data dir made with other page settings,
// and the default 96 MB redo log would make every copy of the template 100 MB.
const INNODB_ARGS = ["--innodb-buffer-pool-size=64M", "--innodb-log-file-size=8M"];

let template: Promise<string> | undefined;

/**
 * A freshly installed data dir, shared by every test process on this machine: mariadb-install-db takes
 * ~2 s, copying its result ~50 ms. Built in a temp dir and renamed into place, so readers never see half
 * of it; keyed by the mariadbd build so an upgrade gets a new one.
 */
function installedTemplate(mariadbd: string): Promise<string> {
  template ??= (async () => {
    const { size, mtimeMs } = statSync(mariadbd);
    const key = createHash("sha256")
      .update(`${size} ${mtimeMs} ${INNODB_ARGS.join(" ")}`)
      .digest("hex")
      .slice(0, 12);
    const target = join(tmpdir(), `im-testkit-mariadb-template-${userInfo().uid}-${key}`);
    if (existsSync(join(target, "mysql"))) return target;
    const staging = await mkdtemp(join(tmpdir(), "im-testkit-mariadb-staging-"));
    try {
      await run(resolveBinary("mariadb-install-db", "mariadb-server"), [
        "--no-defaults",
        `--datadir=${join(staging, "data")}`,
        "--user=root",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        ...INNODB_ARGS,
      ]);
      try {
        await rename(join(staging, "data"), target);
      } catch (error) {
        // Another process won the race; its template is as good as ours.
        if (!existsSync(join(target, "mysql"))) throw error;
      }
      return target;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  })();
  template.catch(() => {
    template = undefined;
  });
  return template;
}

/** Resolves true once a MySQL protocol handshake (protocol version 10) arrives on the port. */
function handshake(port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    signal.addEventListener("abort", () => done(false), { once: true });
    socket.once("data", (chunk) => done(chunk.length > 4 && chunk[4] === 0x0a));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

class MariaDbProcess extends ManagedServer implements MariaDbServer {
  readonly host = HOST;
  readonly socketPath: string;

  constructor(opts: ServerOptions) {
    super("mariadb", resolveBinary("mariadbd", "mariadb-server"), [opts.port], opts, {
      readyTimeoutMs: 30_000,
    });
    this.socketPath = join(this.home, "mariadbd.sock");
  }

  get port(): number {
    return this.ports[0]!;
  }

  protected override async prepare({ dataDir }: LaunchContext): Promise<void> {
    if (existsSync(join(dataDir, "mysql"))) return;
    await cp(await installedTemplate(this.binary), dataDir, { recursive: true });
  }

  protected override args({ ports, dataDir, home }: LaunchContext): string[] {
    return [
      // Must come first; keeps /etc/mysql out of it (TOOLCHAIN gotcha 9).
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${this.socketPath}`,
      `--pid-file=${join(home, "mariadbd.pid")}`,
      `--port=${ports[0]}`,
      `--bind-address=${HOST}`,
      "--user=root",
      "--skip-log-bin",
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      ...INNODB_ARGS,
    ];
  }

  protected override probe({ ports }: LaunchContext, signal: AbortSignal): Promise<boolean> {
    return handshake(ports[0]!, signal);
  }

  url(database?: string): string {
    return `mysql://root@${HOST}:${this.port}${database ? `/${database}` : ""}`;
  }

  async createDatabase(name = `test_${randomBytes(6).toString("hex")}`): Promise<string> {
    if (!/^\w+$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`);
    await this.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4`);
    return this.url(name);
  }

  async query(sql: string, database?: string): Promise<string> {
    const cli = resolveBinary("mariadb", "mariadb-client");
    const args = ["--no-defaults", "--protocol=TCP", `-h${HOST}`, `-P${this.port}`, "-uroot", "--batch"];
    // Without it the client falls back to latin1 under --no-defaults and a C locale, mangling emoji.
    args.push("--default-character-set=utf8mb4");
    args.push("--skip-column-names", ...(database ? [`-D${database}`] : []), "-e", sql);
    return (await run(cli, args)).replace(/\n$/, "");
  }
}

/**
 * Starts MariaDB on a free loopback port (or `opts.port`) with a data dir copied from a cached
 * `mariadb-install-db` result, and waits for its handshake. With a persistent `dataDir` that already holds
 * a database, the existing data is used as is.
 */
export async function startMariaDb(opts: ServerOptions = {}): Promise<MariaDbServer> {
  const server = new MariaDbProcess(opts);
  await server.start();
  return server;
}
