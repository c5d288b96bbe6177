// Redis loses everything in the middle of a stream of Next calls; the numbers carry on above
// everything handed out before (gaps allowed, never a repeat). Starts its own private Redis and
// MariaDB. Run: pnpm --dir apps/sequence wipe-demo
import { groupChat } from "../src/allocator/conversation.js";
import { openPrivateSequence } from "./private-sequence.js";

const { redis, backends, close } = await openPrivateSequence("wipe-demo", 10);
const chat = groupChat("demo");
const take = async (label: string, calls: number) => {
  const numbers: number[] = [];
  for (let i = 0; i < calls; i += 1) numbers.push((await backends.allocator.next(chat, 1)).first);
  console.log(`${label.padEnd(28)} ${numbers.join(" ")}`);
  return numbers;
};

async function untilRedisIsBack() {
  const redisCheck = backends.readiness.find((check) => check.name === "redis")!;
  for (;;) {
    const ok = await redisCheck.check(AbortSignal.timeout(1_000)).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

try {
  console.log("SEQUENCE_STEP=10: MySQL reserves ten numbers ahead at a time\n");
  const before = await take("before:", 12);
  await redis.flushAll();
  const afterFlush = await take("after FLUSHALL:", 6);
  await redis.restart();
  await untilRedisIsBack();
  const afterRestart = await take("after restart (no persist):", 6);
  const all = [...before, ...afterFlush, ...afterRestart];
  const increasing = all.every((n, i) => i === 0 || n > all[i - 1]!);
  console.log(`\nstrictly increasing, no repeats: ${increasing}`);
} finally {
  await close();
}
