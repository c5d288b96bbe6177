import type { CallRecord } from "../history.js";

/** One acknowledged range: a Next answer, or one item of a BatchNext answer. */
export interface AckedRange {
  conversation: string;
  first: number;
  last: number;
  count: number;
  worker: string;
  callId: number;
  /** Position of the item in its BatchNext (0 for Next): request order within one call. */
  item: number;
  invokeMs: number;
  completeMs: number;
}

export interface MaxJump {
  conversation: string;
  /** The acknowledged numbers on either side of the largest gap. */
  from: number;
  to: number;
  jump: number;
}

export interface SequenceFindings {
  violations: string[];
  ranges: number;
  numbers: number;
  conversations: number;
  maxJump?: MaxJump;
}

/** Only acknowledged answers are facts: a failed or indeterminate call may or may not have used numbers. */
export function ackedRanges(calls: readonly CallRecord[]): AckedRange[] {
  const ranges: AckedRange[] = [];
  for (const call of calls) {
    if (call.service !== "sequence" || call.outcome !== "ok") continue;
    const base = {
      worker: call.worker,
      callId: call.id,
      invokeMs: call.invokeMs,
      completeMs: call.completeMs,
    };
    if (call.rpc === "Next") {
      const { first, last } = call.result as { first: number; last: number };
      const { conversation, count } = call.args as { conversation: string; count: number };
      ranges.push({ ...base, conversation, count, first, last, item: 0 });
    } else if (call.rpc === "BatchNext") {
      const items = (call.args as { items: { conversation: string; count: number }[] }).items;
      const answered = (call.result as { ranges: { first: number; last: number }[] }).ranges;
      items.forEach((item, i) => {
        const range = answered[i] ?? { first: Number.NaN, last: Number.NaN };
        ranges.push({ ...base, conversation: item.conversation, count: item.count, ...range, item: i });
      });
    }
  }
  return ranges;
}

const describe = (r: AckedRange) =>
  `[${r.first}..${r.last}] (call #${r.callId} ${r.worker}, item ${r.item}, ${r.invokeMs.toFixed(0)}–${r.completeMs.toFixed(0)} ms)`;

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/**
 * Per conversation: every acknowledged range is `count` consecutive positive numbers; no number is in two
 * acknowledged ranges; each worker's ranges increase in its invocation order (a worker waits for each
 * answer before its next call); and a range is above every range acknowledged before its call was invoked
 * (one clock, the runner's, orders the two). Also the largest gap between consecutive acknowledged numbers.
 */
export function checkSequence(calls: readonly CallRecord[]): SequenceFindings {
  const violations: string[] = [];
  const report = (line: string) => {
    violations.push(line);
  };
  const ranges = ackedRanges(calls);
  let maxJump: MaxJump | undefined;

  for (const [conversation, list] of groupBy(ranges, (r) => r.conversation)) {
    for (const r of list) {
      if (!(Number.isInteger(r.first) && r.first >= 1 && r.last - r.first + 1 === r.count)) {
        report(`${conversation}: ${describe(r)} is not ${r.count} consecutive positive numbers`);
      }
    }
    const byFirst = [...list].sort((a, b) => a.first - b.first);
    for (let i = 1; i < byFirst.length; i++) {
      const [prev, cur] = [byFirst[i - 1]!, byFirst[i]!];
      if (cur.first <= prev.last)
        report(`${conversation}: duplicate numbers: ${describe(prev)} and ${describe(cur)}`);
      const jump = cur.first - prev.last;
      if (!maxJump || jump > maxJump.jump) maxJump = { conversation, from: prev.last, to: cur.first, jump };
    }

    for (const [worker, own] of groupBy(list, (r) => r.worker)) {
      const ordered = [...own].sort(
        (a, b) => a.invokeMs - b.invokeMs || a.callId - b.callId || a.item - b.item,
      );
      for (let i = 1; i < ordered.length; i++) {
        const [prev, cur] = [ordered[i - 1]!, ordered[i]!];
        if (cur.first <= prev.last) {
          report(`${conversation}: ${worker} went backwards: ${describe(prev)} then ${describe(cur)}`);
        }
      }
    }

    // Real time: ranges by completion, with the running maximum of their last numbers.
    const byCompletion = [...list].sort((a, b) => a.completeMs - b.completeMs);
    const runningMax: { last: number; range: AckedRange }[] = [];
    for (const r of byCompletion) {
      const top = runningMax[runningMax.length - 1];
      runningMax.push(!top || r.last > top.last ? { last: r.last, range: r } : top);
    }
    for (const r of list) {
      // The last range that completed strictly before r was invoked.
      let lo = 0;
      let hi = byCompletion.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (byCompletion[mid]!.completeMs < r.invokeMs) lo = mid + 1;
        else hi = mid;
      }
      const before = lo > 0 ? runningMax[lo - 1] : undefined;
      if (before && r.first <= before.last) {
        report(
          `${conversation}: ${describe(r)} is not above ${describe(before.range)}, acknowledged before it was asked for`,
        );
      }
    }
  }

  return {
    violations,
    ranges: ranges.length,
    numbers: ranges.reduce((sum, r) => sum + r.count, 0),
    conversations: new Set(ranges.map((r) => r.conversation)).size,
    ...(maxJump ? { maxJump } : {}),
  };
}
