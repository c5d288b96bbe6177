import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEtcd, startMariaDb, startRedis } from "@im-core/testkit";
import { Bench } from "./context.js";
import { summariseProfileFile } from "./cpuprofile.js";
import { nodeVersion } from "./nodes.js";
import type { BenchOptions } from "./options.js";
import { registrySuite } from "./registry.js";
import { registryScale } from "./registry-scale.js";
import { sequenceSuite } from "./sequence.js";
import { BenchServers } from "./servers.js";
import { nodeSide, sideBySide } from "./side-by-side.js";
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

/** A row list that logs each row as it lands, so a long run shows progress; every row names its Node. */
function progressRows(log: (line: string) => void, node: string, showNode: boolean): Row[] {
  const rows: Row[] = [];
  const t0 = performance.now();
  rows.push = (...items: Row[]) => {
    for (const r of items) {
      r.node = node;
      r.load1 = Number(loadavg()[0]!.toFixed(2));
      const rate = r.rps === undefined ? "" : ` ${Math.round(r.rps)}/s`;
      const where = [r.protocol, r.concurrency === undefined ? "" : `c${r.concurrency}`]
        .filter(Boolean)
        .join(" ");
      log(
        `  [${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${showNode ? `${node} ` : ""}${r.target} | ${r.case} ${where}: ${r.status}${rate}`,
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

/** One Node binary and the sections it runs. */
interface Pass {
  node: string;
  version: string;
  sections: Set<string>;
}

/**
 * One pass per Node for the server-only section, back to back so that every Node meets the same machine
 * load, then the other sections once, on the first Node.
 */
function plan(opts: BenchOptions, versions: string[]): Pass[] {
  const pass = (i: number, sections: Set<string>) => ({
    node: opts.nodes[i]!,
    version: versions[i]!,
    sections,
  });
  if (opts.nodes.length === 1) return [pass(0, opts.sections)];
  const rest = new Set([...opts.sections].filter((s) => s !== "server"));
  return [
    ...(opts.sections.has("server") ? opts.nodes.map((_, i) => pass(i, new Set(["server"]))) : []),
    ...(rest.size > 0 ? [pass(0, rest)] : []),
  ];
}

/** Starts everything, runs the suites, prints and writes the tables, stops what it started. */
export async function runBench(
  opts: BenchOptions,
  log: (line: string) => void = console.log,
): Promise<BenchReport> {
  const versions = opts.nodes.map(nodeVersion);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const nodes = versions.map((v) => v.replace(/^v/, "")).join("-vs-");
  const name = `${stamp}-${opts.quick ? "quick" : "full"}-node${nodes}${opts.profile ? "-profile" : ""}`;
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  const profileDir = join(dir, "profiles");
  const meta = {
    mode: opts.quick ? "quick" : "full",
    serverNode: versions[0],
    ...(versions.length > 1 ? { serverNodes: versions } : {}),
    benchNode: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadavgAtStart: loadavg(),
    startedAt: new Date().toISOString(),
    sections: [...opts.sections],
  };
  const t0 = performance.now();
  log(`bench: ${meta.mode} run, servers on node ${versions.join(" and ")}, output in ${dir}`);

  let text = "";
  const print = (title: string, rows: Row[]) => {
    const table = renderTable(`${title}, load average ${loadavg()[0]!.toFixed(1)}`, [...rows]);
    text += `${table}\n\n`;
    log(`\n${table}`);
  };
  const passes = plan(opts, versions);
  const single = passes.length === 1;
  const tables: Record<string, Row[]> = {};
  for (const [i, pass] of passes.entries()) {
    if (!single) log(`bench: pass ${i + 1}/${passes.length}, ${[...pass.sections]} on node ${pass.version}`);
    const passDir = single ? dir : join(dir, `pass${i + 1}-node${pass.version.replace(/^v/, "")}`);
    await runPass({ ...opts, sections: pass.sections }, pass, passDir, profileDir, log, (service, rows) => {
      tables[service] = [...(tables[service] ?? []), ...rows];
      // One Node: each table as its service finishes. Several: all of them together at the end.
      if (single) print(`${service} (servers on node ${pass.version}, ${meta.mode})`, rows);
    });
  }
  if (!single) {
    for (const [service, rows] of Object.entries(tables)) {
      print(`${service} (servers on node ${versions.join(" and ")}, ${meta.mode})`, rows);
    }
    for (const version of versions.slice(1)) {
      const title = `server-only, ${versions[0]} -> ${version} (ratios to the anchors of the same Node)`;
      const table = sideBySide(title, nodeSide(tables, versions[0]!), nodeSide(tables, version));
      text += `${table}\n\n`;
      log(`\n${table}`);
    }
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
}

/**
 * One pass on one Node: fresh backends (no pass meets data an earlier one left, such as the registry's
 * mirror after the memory case), the anchors when the server-only section runs, then each service.
 * `done` gets each service's rows, their ratios to this pass's anchors filled in.
 */
async function runPass(
  opts: BenchOptions,
  pass: Pass,
  dir: string,
  profileDir: string,
  log: (line: string) => void,
  done: (service: string, rows: Row[]) => void,
): Promise<void> {
  const t0 = performance.now();
  const showNode = opts.nodes.length > 1;
  const servers = new BenchServers(opts, pass.node, pass.version, dir, profileDir, log);
  const disposables: { dispose(): Promise<void> }[] = [];
  try {
    const [etcd, redis, mariadb] = await Promise.all([startEtcd(), startRedis(), startMariaDb()]);
    disposables.push(etcd, redis, mariadb);
    const database = "im_bench";
    const mysqlUrl = await mariadb.createDatabase(database);
    const anchors = opts.sections.has("server") ? await servers.startAnchors() : new Map();
    log(`bench: backing servers and anchors up after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const bench = new Bench(opts, dir, anchors);

    if (opts.services.has("sequence")) {
      const sequence = await servers.startService("sequence", {
        REDIS_URL: redis.url,
        MYSQL_URL: mysqlUrl,
        // The bench measures how many new conversations an instance can start, not one token's limit.
        SEQUENCE_NEW_CONVERSATION_RATE: "1000000",
      });
      const rows = progressRows(log, pass.version, showNode);
      await sequenceSuite(bench, sequence, { mariadb, database, redisPort: redis.port }, rows).catch(
        (error: Error) => rows.push(failedRow("sequence", error)),
      );
      addRatios(rows);
      done("sequence", rows);
      await servers.stop(sequence);
    }
    const registrySections = ["server", "e2e", "extras"].some((s) => opts.sections.has(s));
    if (opts.services.has("registry") && registrySections) {
      const registry = await servers.startService("registry", { ETCD_ENDPOINTS: etcd.endpoints.join(",") });
      const rows = progressRows(log, pass.version, showNode);
      await registrySuite(bench, registry, { etcdEndpoints: etcd.endpoints }, rows).catch((error: Error) =>
        rows.push(failedRow("registry", error)),
      );
      addRatios(rows);
      done("registry", rows);
      await servers.stop(registry);
    }
    if (opts.services.has("registry") && opts.sections.has("scale")) {
      const rows = progressRows(log, pass.version, showNode);
      await registryScale(bench, servers, rows).catch((error: Error) =>
        rows.push(failedRow("registry", error)),
      );
      done("registry at scale", rows);
    }
  } finally {
    await servers.disposeAll();
    for (const d of disposables.reverse()) await d.dispose().catch(() => {});
  }
}
