import type { ServiceMetrics } from "@im-core/service-kit";
import type { AllocatorEvents } from "./allocator/allocator.js";

/** The sequence service's own metrics, next to the RPC ones of service-kit on one `/metrics`. */
export function sequenceMetrics(metrics: ServiceMetrics) {
  const reservations = metrics.counter(
    "sequence_reservations_total",
    "Reservations applied to Redis: seed (counter created from MySQL), extend (room for waiting callers), ahead (background).",
    ["reason"],
  );
  // Every series from the start, so rate() sees the first increment.
  for (const reason of ["seed", "extend", "ahead"]) reservations.inc({ reason }, 0);
  const mysqlWrites = metrics.counter(
    "sequence_mysql_writes_total",
    "Ceilings committed to MySQL (about one per SEQUENCE_STEP numbers per conversation).",
  );
  const coalesced = metrics.counter(
    "sequence_coalesced_calls_total",
    "Calls answered by a Redis script call made together with another call of the same conversation.",
  );
  const serverChanges = metrics.counter(
    "sequence_redis_server_changes_total",
    "Times the Redis server identity changed (restart, failover), each fencing older counters.",
  );
  const events: AllocatorEvents = {
    reservation: (reason) => reservations.inc({ reason }),
    coalesced: (calls) => coalesced.inc(calls),
    serverChange: () => serverChanges.inc(),
  };
  return {
    events,
    mysqlWrite: () => mysqlWrites.inc(),
    /** The epoch gauge reads the allocator at scrape time. */
    watchEpoch(epoch: () => number) {
      metrics.gauge(
        "sequence_epoch",
        "The epoch Redis counters are fenced with (bumped on a server change).",
        epoch,
      );
    },
  };
}
