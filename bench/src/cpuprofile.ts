// A tiny summariser of V8 .cpuprofile files (`node --cpu-prof`): self time by function and by package,
// and total (inclusive) time of the functions that matter. Usage:
//   node --import tsx src/cpuprofile.ts <file.cpuprofile> [top=30]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package name, "node:internal", our app/package dir, or a V8 pseudo-frame. */
export function category(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node internals";
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1]!;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const ours = /\/(apps|packages)\/([^/]+)\//.exec(url);
  if (ours) return `@im-core/${ours[2]}`;
  return url;
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
    .replace(/.*\/(apps|packages)\//, "$1/");
}

export interface Summary {
  totalMs: number;
  idleMs: number;
  functions: { name: string; where: string; selfMs: number; totalMs: number }[];
  categories: { name: string; selfMs: number }[];
}

export function summarise(profile: CpuProfile): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"}\u0000${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const categories = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the gap after it to sample i instead.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!);
    if (!node || dt <= 0) continue;
    totalUs += dt;
    if (node.callFrame.functionName === "(idle)") {
      idleUs += dt;
      continue;
    }
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + dt);
    const cat = category(node.callFrame.url, node.callFrame.functionName);
    categories.set(cat, (categories.get(cat) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k2 = key(byId.get(id)!);
      if (seen.has(k2)) continue;
      seen.add(k2);
      total.set(k2, (total.get(k2) ?? 0) + dt);
    }
  }
  const functions = [...total.keys()].map((k) => {
    const [name, where] = k.split("\u0000") as [string, string];
    return { name, where, selfMs: (self.get(k) ?? 0) / 1000, totalMs: (total.get(k) ?? 0) / 1000 };
  });
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    functions,
    categories: [...categories]
      .map(([name, us]) => ({ name, selfMs: us / 1000 }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** Text report: busy time, self time by package, top-N self-time functions, top-N inclusive. */
export function formatSummary(s: Summary, top = 30): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `profiled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s (percentages are of busy time)`,
    "",
    "self time by package:",
    ...s.categories
      .slice(0, 15)
      .map((c) => `  ${pct(c.selfMs)}  ${c.selfMs.toFixed(0).padStart(7)} ms  ${c.name}`),
    "",
    `top ${top} functions by self time:`,
    ...[...s.functions]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((f) => `  ${pct(f.selfMs)}  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`),
    "",
    `top ${top} functions by total (inclusive) time, own code and interceptors only:`,
    ...[...s.functions]
      .filter((f) => /^(apps|packages)\//.test(f.where) || /connect-node|connect\/dist/.test(f.where))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, top)
      .map((f) => `  ${pct(f.totalMs)}  ${f.totalMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`),
  ];
  return lines.join("\n");
}

export function summariseProfileFile(file: string, top = 30): string {
  return formatSummary(summarise(JSON.parse(readFileSync(file, "utf8")) as CpuProfile), top);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error("usage: node --import tsx src/cpuprofile.ts <file.cpuprofile> [top]");
    process.exit(2);
  }
  console.log(summariseProfileFile(file, top ? Number(top) : 30));
}
