import type { Random } from "../random.js";
import { FAULT_KINDS, type FaultKind, type FaultPlan } from "./faults.js";

export interface ScheduleOptions {
  /** Time the faults may take, from the first injection to the last heal's quiet gap (planned). */
  budgetMs: number;
  /** Exactly these faults, in this order (parameters still drawn from the seed); default: drawn too. */
  kinds?: readonly FaultSpec[];
  /** Upper bound of each fault's hold; lower in short runs. */
  maxHoldMs?: number;
  /** Bounds of the quiet gap after each heal. */
  gapMs?: [number, number];
}

/** Rough cost of each fault beyond its hold (restarts, resyncs), for planning only. */
const OVERHEAD_MS: Record<FaultKind, number> = {
  "redis-flushall": 0,
  "redis-kill": 1_000,
  "redis-failover": 1_000,
  "redis-rollback": 2_000,
  "etcd-leader-kill": 3_000,
  "etcd-quorum-loss": 4_000,
  "mysql-kill": 5_000,
  "service-kill": 3_000,
  "service-term": 5_000,
  partition: 0,
};

/** A fault kind, optionally aimed at one service: `service-kill@registry`, `partition@sequence`. */
export type FaultSpec = FaultKind | `${FaultKind}@${"registry" | "sequence"}`;

const SERVICES = ["registry", "sequence"] as const;

export function isFaultSpec(spec: string): spec is FaultSpec {
  const [kind, service, ...rest] = spec.split("@");
  return (
    rest.length === 0 &&
    (FAULT_KINDS as readonly string[]).includes(kind!) &&
    (service === undefined || (SERVICES as readonly string[]).includes(service))
  );
}

/** Draws one fault's parameters. */
function plan(random: Random, spec: FaultSpec, maxHoldMs: number, gap: [number, number]): FaultPlan {
  const [kind, aimed] = spec.split("@") as [FaultKind, (typeof SERVICES)[number] | undefined];
  const drawn = random.pick(SERVICES);
  const service = aimed ?? drawn;
  const variant =
    kind === "redis-rollback"
      ? random.pick(["kept", "cut"])
      : kind === "partition" && service === "sequence"
        ? random.pick(["redis", "mysql"])
        : "";
  return {
    kind,
    holdMs: kind === "redis-flushall" ? 0 : random.int(1_000, maxHoldMs),
    gapMs: random.int(gap[0], gap[1]),
    service,
    instance: random.int(0, 1),
    variant,
  };
}

/** The run's faults: the given kinds, or kinds drawn at random until the budget is planned full. */
export function schedule(random: Random, options: ScheduleOptions): FaultPlan[] {
  const maxHoldMs = options.maxHoldMs ?? 6_000;
  const gap = options.gapMs ?? [8_000, 15_000];
  if (options.kinds) return options.kinds.map((kind) => plan(random, kind, maxHoldMs, gap));
  const plans: FaultPlan[] = [];
  let planned = 0;
  for (;;) {
    const next = plan(random, random.pick(FAULT_KINDS), maxHoldMs, gap);
    const cost = next.holdMs + OVERHEAD_MS[next.kind] + next.gapMs;
    if (planned + cost > options.budgetMs) return plans;
    plans.push(next);
    planned += cost;
  }
}
