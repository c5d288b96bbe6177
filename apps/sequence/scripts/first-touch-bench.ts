// First touch of many NEW conversations (each needs a MySQL reservation: lock + ceiling write).
// Prints conversations/s for BatchNext-sized nextMany calls and for concurrent first-touch Next
// calls on distinct conversations. Starts its own private Redis and MariaDB. Run:
//   pnpm --dir apps/sequence first-touch-bench [conversations=2000] [concurrency=64]
import { groupChat } from "../src/allocator/conversation.js";
import { openPrivateSequence } from "./private-sequence.js";

const total = Number(process.argv[2] ?? 2_000);
const concurrency = Number(process.argv[3] ?? 64);

const { backends, close } = await openPrivateSequence("first-touch-bench", 10_000);
await backends.allocator.next(groupChat("warm-up"), 1);

async function measure(label: string, run: (prefix: string) => Promise<number>) {
  const started = performance.now();
  try {
    const done = await run(`${label}-${started}`);
    const seconds = (performance.now() - started) / 1_000;
    console.log(
      `${label.padEnd(36)} ${String(done).padStart(6)} new conversations  ${Math.round(done / seconds)
        .toLocaleString("en")
        .padStart(7)} conv/s`,
    );
  } catch (error) {
    console.log(`${label.padEnd(36)} FAILED: ${error instanceof Error ? error.message : String(error)}`);
  }
}

for (const size of [100, 1_000]) {
  await measure(`nextMany (BatchNext) of ${size}`, async (prefix) => {
    let done = 0;
    while (done < total) {
      const items = Array.from({ length: size }, (_, i) => ({
        conversation: groupChat(`${prefix}-${done + i}`),
        count: 1,
      }));
      const ranges = await backends.allocator.nextMany(items);
      if (ranges.some((r) => r.first !== 1)) throw new Error("a range did not start at 1");
      done += size;
    }
    return done;
  });
}
await measure(`${concurrency} concurrent first-touch Next`, async (prefix) => {
  let nextIndex = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (nextIndex < total) {
        const i = nextIndex++;
        const range = await backends.allocator.next(groupChat(`${prefix}-${i}`), 1);
        if (range.first !== 1) throw new Error("a range did not start at 1");
      }
    }),
  );
  return total;
});

await close();
