import { setMaxListeners } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import { sleep, withDeadline } from "@im-core/common";
import { RegistryService, WatchEvent_Type } from "@im-core/proto";
import type { ServiceProcess } from "@im-core/testkit";
import type { Bench } from "./context.js";
import { client } from "./e2e.js";
import { GATEWAY } from "./registry-leases.js";
import { percentiles } from "./stats.js";
import type { Row } from "./table.js";

/** Time from starting a Register call to its PUT event arriving on each of N open Watch streams. */
export async function watchLatency(
  bench: Bench,
  server: ServiceProcess,
  canRegister: boolean,
  leaseFor: (i: number) => Promise<bigint>,
): Promise<Row> {
  const streams = bench.size.watchStreams;
  const base: Omit<Row, "status"> = {
    section: "registry",
    case: `Register -> event on ${streams} Watch streams`,
    target: server.name,
    method: "Watch",
    protocol: "grpc",
    concurrency: streams,
  };
  if (!canRegister) return { ...base, status: "skipped: Register does not work" };
  const reg = client(RegistryService, server.url);
  const abort = new AbortController();
  setMaxListeners(streams + 10, abort.signal);
  const pending = new Map<string, { t0: number; tAck: number; arrived: number; done: () => void }>();
  const fromCall: number[] = [];
  /** Arrival minus the Register response's arrival (negative: the event came first). */
  const fromAck: number[] = [];
  const early: number[] = [];
  let streamError: string | undefined;
  const watchers = Array.from({ length: streams }, async () => {
    try {
      for await (const response of reg.watch({}, { signal: abort.signal })) {
        const now = performance.now();
        for (const event of response.events) {
          if (event.type !== WatchEvent_Type.PUT || !event.location) continue;
          const waiter = pending.get(event.location.userId);
          if (!waiter) continue;
          fromCall.push(now - waiter.t0);
          if (waiter.tAck > 0) fromAck.push(now - waiter.tAck);
          else early.push(now);
          if (++waiter.arrived === streams) waiter.done();
        }
      }
    } catch (error) {
      const e = ConnectError.from(error);
      if (e.code !== Code.Canceled) streamError ??= `${Code[e.code]}: ${e.rawMessage}`;
    }
  });
  const fire = async (userId: string, timeoutMs: number) => {
    let done!: () => void;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const waiter = { t0: performance.now(), tAck: 0, arrived: 0, done };
    pending.set(userId, waiter);
    await reg.register({ userId, deviceId: "d", gatewayNode: GATEWAY, leaseId: await leaseFor(0) });
    waiter.tAck = performance.now();
    for (const t of early.splice(0)) fromAck.push(t - waiter.tAck);
    const timedOut = await withDeadline(all, timeoutMs, () => new Error("timed out")).then(
      () => false,
      () => true,
    );
    pending.delete(userId);
    return { arrived: waiter.arrived, timedOut };
  };
  try {
    await sleep(200);
    // Warm-up event: also proves every stream is open (retried while streams connect).
    let ready = false;
    for (let attempt = 0; attempt < 5 && !ready && !streamError; attempt++) {
      ready = !(await fire(`watch-warm-${attempt}`, 2000)).timedOut;
    }
    fromCall.length = 0;
    fromAck.length = 0;
    early.length = 0;
    if (!ready) {
      return {
        ...base,
        status: streamError
          ? streamError.startsWith("Unimplemented")
            ? "UNIMPLEMENTED"
            : `ERROR ${streamError}`
          : "ERROR events did not reach every stream",
      };
    }
    let missing = 0;
    const t0 = performance.now();
    for (let k = 0; k < bench.size.watchEvents; k++) {
      const { arrived } = await fire(`watch-${k}`, 5000);
      missing += streams - arrived;
    }
    const seconds = (performance.now() - t0) / 1000;
    const call = percentiles(fromCall);
    const ack = percentiles(fromAck);
    const beforeAck = fromAck.filter((d) => d < 0).length;
    return {
      ...base,
      status: missing === 0 ? "ok" : `errors: ${missing} events missing`,
      requests: bench.size.watchEvents,
      rps: bench.size.watchEvents / seconds,
      unitsPerSec: fromCall.length / seconds,
      unit: "events",
      p50Ms: call.p50,
      p99Ms: call.p99,
      notes: {
        "events before the Register response": `${((100 * beforeAck) / Math.max(1, fromAck.length)).toFixed(0)}%`,
        "vs response p50 ms": ack.p50,
        "p99 ms": ack.p99,
      },
    };
  } finally {
    abort.abort();
    await Promise.allSettled(watchers);
  }
}
