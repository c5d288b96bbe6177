import type { WatchEventRecord, WatchSegment } from "../history.js";

export interface StreamSummary {
  stream: string;
  userIds: string[];
  segments: number;
  /** Ends of its Watch calls, by how they ended ("normal", "unavailable", ...). */
  ends: Record<string, number>;
  /** The revision range (from, to] its events cover, once concatenated. */
  from?: number;
  to?: number;
  events: number;
}

export interface WatchFindings {
  violations: string[];
  streams: StreamSummary[];
}

export interface StreamSpec {
  stream: string;
  /** Users followed; empty = every user. */
  userIds: string[];
}

const eventKey = (e: WatchEventRecord) =>
  `${e.revision} ${e.type} ${e.userId}/${e.deviceId} ${e.gatewayNode} ${e.leaseId}`;

/** Within one revision the order of events is not promised (one revision may remove several keys). */
const canonical = (events: readonly WatchEventRecord[]) =>
  events.map(eventKey).sort((a, b) => {
    const [ra, rb] = [Number(a.split(" ")[0]), Number(b.split(" ")[0])];
    return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
  });

/**
 * Each router stream is a chain of Watch calls, each resumed from the previous one's last revision + 1.
 * Concatenated, its events must be exactly etcd's events for the followed users over the revision range
 * the chain covers: none missed, none repeated, in revision order. Also each resumed call must start where
 * it was asked to, and no call may end OUT_OF_RANGE (nothing is compacted during a run).
 */
export function checkWatch(
  specs: readonly StreamSpec[],
  segments: readonly WatchSegment[],
  etcdEvents: readonly WatchEventRecord[],
): WatchFindings {
  const violations: string[] = [];
  const report = (line: string) => {
    violations.push(line);
  };
  const streams: StreamSummary[] = [];

  for (const spec of specs) {
    const own = segments.filter((s) => s.stream === spec.stream).sort((a, b) => a.openedMs - b.openedMs);
    const ends: Record<string, number> = {};
    const received: WatchEventRecord[] = [];
    let from: number | undefined;
    let to: number | undefined;
    for (const segment of own) {
      ends[segment.end ?? "open"] = (ends[segment.end ?? "open"] ?? 0) + 1;
      if (segment.end === "out_of_range") {
        report(
          `${spec.stream}: Watch from ${segment.startRevision} on registry-${segment.instance} ended OUT_OF_RANGE (${segment.message ?? ""}) although nothing was compacted`,
        );
      }
      if (segment.firstRevision === undefined) continue;
      if (segment.startRevision > 0 && segment.firstRevision !== segment.startRevision - 1) {
        report(
          `${spec.stream}: Watch from ${segment.startRevision} on registry-${segment.instance} said it starts after ${segment.firstRevision}`,
        );
      }
      if (from === undefined) from = segment.firstRevision;
      let reached = segment.firstRevision;
      for (const response of segment.responses) {
        if (response.revision < reached) {
          report(
            `${spec.stream}: registry-${segment.instance} went back from revision ${reached} to ${response.revision}`,
          );
        }
        for (const event of response.events) {
          if (event.revision <= reached || event.revision > response.revision) {
            report(
              `${spec.stream}: event at revision ${event.revision} in a response for (${reached}, ${response.revision}] on registry-${segment.instance}`,
            );
          }
          received.push(event);
        }
        reached = Math.max(reached, response.revision);
      }
      to = Math.max(to ?? reached, reached);
    }
    streams.push({
      stream: spec.stream,
      userIds: spec.userIds,
      segments: own.length,
      ends,
      from,
      to,
      events: received.length,
    });
    if (from === undefined || to === undefined) {
      report(`${spec.stream}: no Watch call of it ever answered`);
      continue;
    }
    const followed = new Set(spec.userIds);
    const expected = etcdEvents.filter(
      (e) => e.revision > from! && e.revision <= to! && (followed.size === 0 || followed.has(e.userId)),
    );
    for (let i = 1; i < received.length; i++) {
      if (received[i]!.revision < received[i - 1]!.revision) {
        report(
          `${spec.stream}: revision ${received[i]!.revision} received after ${received[i - 1]!.revision}`,
        );
        break;
      }
    }
    const [got, want] = [canonical(received), canonical(expected)];
    if (got.join("\n") !== want.join("\n")) {
      const firstDiff = got.findIndex((line, i) => line !== want[i]);
      const at = firstDiff === -1 ? Math.min(got.length, want.length) : firstDiff;
      const { missing, extra } = multisetDiff(got, want);
      report(
        `${spec.stream}: events over (${from}, ${to}] differ from etcd's at #${at}: received ${got.length}, etcd has ${want.length}; ` +
          `missed ${missing.length} (first: ${missing.slice(0, 3).join(" | ") || "-"}); ` +
          `extra or repeated ${extra.length} (first: ${extra.slice(0, 3).join(" | ") || "-"})`,
      );
    }
  }
  return { violations, streams };
}

/** What `want` has that `got` lacks, and what `got` has beyond `want` (repeats included). */
function multisetDiff(
  got: readonly string[],
  want: readonly string[],
): { missing: string[]; extra: string[] } {
  const counts = new Map<string, number>();
  for (const line of want) counts.set(line, (counts.get(line) ?? 0) + 1);
  const extra: string[] = [];
  for (const line of got) {
    const n = counts.get(line) ?? 0;
    if (n > 0) counts.set(line, n - 1);
    else extra.push(line);
  }
  const missing = [...counts].flatMap(([line, n]) => Array<string>(n).fill(line));
  return { missing, extra };
}
