export interface BenchOptions {
  quick: boolean;
  /** Node binary for every server process (services and anchors). */
  node: string;
  /** Write V8 CPU profiles of the services (`--cpu-prof`) and summarise them. */
  profile: boolean;
  /** Which parts to run: server (h2load), e2e, extras (service-specific cases). */
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
      };
}

export type Sizes = ReturnType<typeof sizes>;
