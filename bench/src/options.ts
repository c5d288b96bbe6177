import { projectNode24, resolveNode } from "./nodes.js";

export interface BenchOptions {
  quick: boolean;
  /**
   * Node binaries for the server processes (services and anchors). The server-only section runs once per
   * binary; the other sections run once, on the first.
   */
  nodes: string[];
  /** Write V8 CPU profiles of the services (`--cpu-prof`) and summarise them. */
  profile: boolean;
  /** Which parts to run: server (h2load), e2e, extras (service-specific cases), scale (registry at 1 M devices; not by default). */
  sections: Set<string>;
  /** Which services: sequence, registry. */
  services: Set<string>;
  /** Conversations in the spread case (default: 300 quick, 100,000 full). */
  spread?: number;
}

/** Sizes of a run: tiny in quick mode (CI smoke), meaningful in full mode. */
export function sizes(quick: boolean) {
  return quick
    ? {
        h2loadSeconds: 1,
        warmupSeconds: 1,
        concurrencies: [64],
        e2eMs: 300,
        loadMs: 700,
        redisRequests: 20_000,
        spreadConversations: 300,
        batchLookupUsers: 200,
        watchStreams: 100,
        watchEvents: 10,
        memoryEntries: 500,
        registerBodies: 2_000,
        batchRegisterDevices: 4_000,
        scaleDevices: 4_000,
        stormDevices: 2_000,
      }
    : {
        h2loadSeconds: 5,
        warmupSeconds: 2,
        concurrencies: [64, 256],
        e2eMs: 3_000,
        loadMs: 5_000,
        redisRequests: 300_000,
        spreadConversations: 100_000,
        batchLookupUsers: 1_000,
        watchStreams: 100,
        watchEvents: 200,
        memoryEntries: 100_000,
        registerBodies: 30_000,
        batchRegisterDevices: 100_000,
        scaleDevices: 1_000_000,
        stormDevices: 100_000,
      };
}

export type Sizes = ReturnType<typeof sizes>;

/** The command line of `pnpm bench` (bench/README.md, "Options"). */
export function parseArgs(argv: string[]): BenchOptions {
  const opts: BenchOptions = {
    quick: false,
    nodes: [process.execPath],
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
    else if (arg === "--node") opts.nodes = [value()];
    else if (arg === "--nodes") opts.nodes = value().split(",").map(resolveNode);
    else if (arg === "--node24") opts.nodes = [process.execPath, projectNode24()];
    else if (arg === "--profile") opts.profile = true;
    else if (arg === "--spread") opts.spread = Number(value());
    else if (arg === "--sections") opts.sections = new Set(value().split(","));
    else if (arg === "--services") opts.services = new Set(value().split(","));
    else if (arg === "--") continue;
    else throw new Error(`unknown option ${arg} (see bench/README.md)`);
  }
  if (opts.profile && opts.nodes.length > 1)
    throw new Error("--profile takes one Node (one profile per service)");
  return opts;
}
