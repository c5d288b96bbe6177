import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts, startEtcd, startMariaDb, startRedis } from "@im-core/testkit";
import { Bench, type BenchOptions } from "./context.js";
import { summariseProfileFile } from "./cpuprofile.js";
import { type ChildServer, spawnServer } from "./procs.js";
import { registrySuite } from "./registry.js";
import { sequenceSuite } from "./sequence.js";
import { addRatios, type Row, renderTable } from "./table.js";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = join(benchDir, "..");

export interface BenchReport {
  meta: Record<string, unknown>;
  tables: Record<string, Row[]>;
  /** Where the JSON was written. */
  file: string;
  /** Printed text of every table. */
  text: string;
  profiles: Record<string, string>;
}

/** A row list that logs each row as it lands, so a long run shows progress. */
function progressRows(log: (line: string) => void): Row[] {
  const rows: Row[] = [];
  const t0 = performance.now();
  rows.push = (...items: Row[]) => {
    for (const r of items) {
      r.load1 = Number(loadavg()[0]!.toFixed(2));
      const rate = r.rps === undefined ? "" : ` ${Math.round(r.rps)}/s`;
      const where = [r.protocol, r.concurrency === undefined ? "" : `c${r.concurrency}`]
        .filter(Boolean)
        .join(" ");
      log(
        `  [${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${r.target} | ${r.case} ${where}: ${r.status}${rate}`,
      );
    }
    return Array.prototype.push.apply(rows, items);
  };
  return rows;
}

function failedRow(target: string, error: Error): Row {
  return {
    section: "suite",
    case: "(stopped here)",
    target,
    status: `ERROR ${error.message.split("\n")[0]}`,
  };
}

export function parseArgs(argv: string[]): BenchOptions {
  const opts: BenchOptions = {
    quick: false,
    node: process.execPath,
    profile: false,
    sections: new Set(["server", "e2e", "extras"]),
    services: new Set(["sequence", "registry"]),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--quick") opts.quick = true;
    else if (arg === "--full") opts.quick = false;
    else if (arg === "--node") opts.node = value();
    else if (arg === "--profile") opts.profile = true;
    else if (arg === "--spread") opts.spread = Number(value());
    else if (arg === "--sections") opts.sections = new Set(value().split(","));
    else if (arg === "--services") opts.services = new Set(value().split(","));
    else if (arg === "--") continue;
    else throw new Error(`unknown option ${arg} (see bench/README.md)`);
  }
  return opts;
}

/** Starts everything, runs the suites, prints and writes the tables, stops what it started. */
export async function runBench(
  opts: BenchOptions,
  log: (line: string) => void = console.log,
): Promise<BenchReport> {
  const serverNode = execFileSync(opts.node, ["-v"], { encoding: "utf8" }).trim();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const name = `${stamp}-${opts.quick ? "quick" : "full"}-node${serverNode.replace(/^v/, "")}${opts.profile ? "-profile" : ""}`;
  const dir = join(benchDir, "results", name);
  mkdirSync(join(dir, "logs"), { recursive: true });
  const profileDir = join(dir, "profiles");
  const meta = {
    mode: opts.quick ? "quick" : "full",
    serverNode,
    benchNode: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadavgAtStart: loadavg(),
    startedAt: new Date().toISOString(),
    sections: [...opts.sections],
  };
  const t0 = performance.now();
  log(`bench: ${meta.mode} run, servers on node ${serverNode}, results in ${dir}`);

  const started: ChildServer[] = [];
  const disposables: { dispose(): Promise<void> }[] = [];
  const tsx = import.meta.resolve("tsx");
  const anchorScript = (file: string) => fileURLToPath(new URL(`./anchors/${file}`, import.meta.url));
  try {
    const [etcd, redis, mariadb] = await Promise.all([startEtcd(), startRedis(), startMariaDb()]);
    disposables.push(etcd, redis, mariadb);
    const database = "im_bench";
    const mysqlUrl = await mariadb.createDatabase(database);

    const anchorList = [
      ["anchor: bare http2", "bare-http2.ts"],
      ["anchor: connect empty", "connect-empty.ts"],
      ["anchor: grpc-js", "grpc-js.ts"],
    ] as const;
    const ports = await freePorts(anchorList.length);
    const anchorServers = await Promise.all(
      anchorList.map(([target, file], i) =>
        spawnServer({
          name: target,
          node: opts.node,
          args: ["--import", tsx, anchorScript(file), String(ports[i])],
          cwd: benchDir,
          logFile: join(dir, "logs", `${file.replace(".ts", "")}.log`),
          port: ports[i]!,
          ready: { line: /^LISTENING/ },
        }).then((server) => {
          started.push(server);
          return server;
        }),
      ),
    );
    const anchors = new Map(anchorList.map(([target], i) => [target as string, anchorServers[i]!]));
    log(`bench: backing servers and anchors up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const bench = new Bench(opts, dir, anchors);

    const startService = async (app: "sequence" | "registry", env: Record<string, string>) => {
      const t1 = performance.now();
      const [port] = await freePorts(1);
      const profileArgs = opts.profile
        ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${app}.cpuprofile`]
        : [];
      const server = await spawnServer({
        name: app,
        node: opts.node,
        args: [...profileArgs, join(repoRoot, "apps", app, "dist", "main.js")],
        cwd: join(repoRoot, "apps", app),
        env: { AUTH_DISABLED: "true", HOST: "127.0.0.1", PORT: String(port), ...env },
        logFile: join(dir, "logs", `${app}.log`),
        port: port!,
        ready: { path: "/readyz" },
      });
      started.push(server);
      log(`bench: ${app} ready after ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      return server;
    };
    const stopService = async (server: ChildServer) => {
      const t1 = performance.now();
      await server.stop();
      log(`bench: ${server.name} stopped after ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    };

    const tables: Record<string, Row[]> = {};
    let text = "";
    const print = (title: string, rows: Row[]) => {
      addRatios(rows);
      const table = renderTable(`${title}, load average ${loadavg()[0]!.toFixed(1)}`, [...rows]);
      text += `${table}\n\n`;
      log(`\n${table}`);
    };

    if (opts.services.has("sequence")) {
      const sequence = await startService("sequence", { REDIS_URL: redis.url, MYSQL_URL: mysqlUrl });
      tables.sequence = progressRows(log);
      await sequenceSuite(
        bench,
        sequence,
        { mariadb, database, redisPort: redis.port },
        tables.sequence,
      ).catch((error: Error) => tables.sequence!.push(failedRow("sequence", error)));
      print(`sequence (servers on node ${serverNode}, ${meta.mode})`, tables.sequence);
      await stopService(sequence);
    }
    if (opts.services.has("registry")) {
      const registry = await startService("registry", { ETCD_ENDPOINTS: etcd.endpoints.join(",") });
      tables.registry = progressRows(log);
      await registrySuite(bench, registry, { etcdEndpoints: etcd.endpoints }, tables.registry).catch(
        (error: Error) => tables.registry!.push(failedRow("registry", error)),
      );
      print(`registry (servers on node ${serverNode}, ${meta.mode})`, tables.registry);
      await stopService(registry);
    }

    const profiles: Record<string, string> = {};
    if (opts.profile) {
      for (const app of ["sequence", "registry"].filter((a) => opts.services.has(a))) {
        const file = join(profileDir, `${app}.cpuprofile`);
        try {
          profiles[app] = summariseProfileFile(file, 25);
          writeFileSync(join(profileDir, `${app}.summary.txt`), profiles[app]);
          log(`\n== CPU profile: ${app} (${file}) ==\n${profiles[app]}`);
        } catch (error) {
          log(`no profile for ${app}: ${(error as Error).message}`);
        }
      }
    }

    const report = {
      meta: { ...meta, finishedAt: new Date().toISOString(), loadavgAtEnd: loadavg() },
      tables,
    };
    const file = join(benchDir, "results", `${name}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`\nbench: wrote ${file} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { ...report, file, text, profiles };
  } finally {
    for (const server of started.reverse()) await server.stop(5000).catch(() => {});
    for (const d of disposables.reverse()) await d.dispose().catch(() => {});
  }
}
