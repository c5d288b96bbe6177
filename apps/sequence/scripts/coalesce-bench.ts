// How much one hot conversation costs Redis: many concurrent callers of Next (count 1) on ONE
// conversation through one allocator, against the same callers spread over as many conversations.
// Prints numbers/s and Redis script calls per Next (from INFO commandstats, so every EVALSHA counts,
// reservations included). Starts its own private Redis and MariaDB. Run:
//   pnpm --dir apps/sequence coalesce-bench [callers=64] [seconds=3]
import { groupChat } from "../src/allocator/conversation.js";
import { openPrivateSequence } from "./private-sequence.js";

const callers = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 3);

const { redis, backends, close } = await openPrivateSequence("coalesce-bench", 10_000);

async function scriptCalls(): Promise<number> {
  const stats = (await redis.command("INFO", "commandstats")) ?? "";
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

async function run(label: string, conversationOf: (caller: number) => ReturnType<typeof groupChat>) {
  // Warm-up: seeds every counter, so the timed part measures steady state.
  await Promise.all(Array.from({ length: callers }, (_, c) => backends.allocator.next(conversationOf(c), 1)));
  const scriptsBefore = await scriptCalls();
  const deadline = performance.now() + seconds * 1_000;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      const conversation = conversationOf(caller);
      while (performance.now() < deadline) {
        const t = performance.now();
        await backends.allocator.next(conversation, 1);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  const scripts = (await scriptCalls()) - scriptsBefore;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  console.log(
    [
      label.padEnd(34),
      `${Math.round(latencies.length / elapsed)
        .toLocaleString("en")
        .padStart(8)} Next/s`,
      `${(scripts / latencies.length).toFixed(3).padStart(6)} script calls/Next`,
      `p50 ${pct(0.5).toFixed(2)} ms`,
      `p99 ${pct(0.99).toFixed(2)} ms`,
    ].join("  "),
  );
}

try {
  console.log(`${callers} concurrent callers, Next count 1, ${seconds} s each, one allocator instance\n`);
  const round = Date.now();
  await run("one hot conversation", () => groupChat(`hot-${round}`));
  await run(`${callers} conversations, one per caller`, (caller) => groupChat(`spread-${round}-${caller}`));
} finally {
  await close();
}
