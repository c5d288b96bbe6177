import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEtcd, startMariaDb, startRedis } from "@im-core/testkit";
import { Bench } from "./context.js";
import { summariseProfileFile } from "./cpuprofile.js";
import type { BenchOptions } from "./options.js";
import { registrySuite } from "./registry.js";
import { sequenceSuite } from "./sequence.js";
import { BenchServers } from "./servers.js";
import { addRatios, type Row, renderTable } from "./table.js";

/** Raw output of every run (JSON, logs, profiles); bench/results holds the summaries worth committing. */
const outDir = fileURLToPath(new URL("../out", import.meta.url));

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
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
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
  log(`bench: ${meta.mode} run, servers on node ${serverNode}, output in ${dir}`);

  const servers = new BenchServers(opts, dir, profileDir, log);
  const disposables: { dispose(): Promise<void> }[] = [];
  try {
    const [etcd, redis, mariadb] = await Promise.all([startEtcd(), startRedis(), startMariaDb()]);
    disposables.push(etcd, redis, mariadb);
    const database = "im_bench";
    const mysqlUrl = await mariadb.createDatabase(database);
    const anchors = await servers.startAnchors();
    log(`bench: backing servers and anchors up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const bench = new Bench(opts, dir, anchors);

    const tables: Record<string, Row[]> = {};
    let text = "";
    const print = (title: string, rows: Row[]) => {
      addRatios(rows);
      const table = renderTable(`${title}, load average ${loadavg()[0]!.toFixed(1)}`, [...rows]);
      text += `${table}\n\n`;
      log(`\n${table}`);
    };

    if (opts.services.has("sequence")) {
      const sequence = await servers.startService("sequence", { REDIS_URL: redis.url, MYSQL_URL: mysqlUrl });
      tables.sequence = progressRows(log);
      await sequenceSuite(
        bench,
        sequence,
        { mariadb, database, redisPort: redis.port },
        tables.sequence,
      ).catch((error: Error) => tables.sequence!.push(failedRow("sequence", error)));
      print(`sequence (servers on node ${serverNode}, ${meta.mode})`, tables.sequence);
      await servers.stop(sequence);
    }
    if (opts.services.has("registry")) {
      const registry = await servers.startService("registry", { ETCD_ENDPOINTS: etcd.endpoints.join(",") });
      tables.registry = progressRows(log);
      await registrySuite(bench, registry, { etcdEndpoints: etcd.endpoints }, tables.registry).catch(
        (error: Error) => tables.registry!.push(failedRow("registry", error)),
      );
      print(`registry (servers on node ${serverNode}, ${meta.mode})`, tables.registry);
      await servers.stop(registry);
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
    const file = join(outDir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`\nbench: wrote ${file} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { ...report, file, text, profiles };
  } finally {
    await servers.disposeAll();
    for (const d of disposables.reverse()) await d.dispose().catch(() => {});
  }
}
