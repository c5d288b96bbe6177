import type { EtcdHistory } from "../etcd-history.js";
import type { History } from "../history.js";
import { checkRegistry, type FinalLookup, type RegistryFindings } from "./registry.js";
import { checkSequence, type SequenceFindings } from "./sequence.js";
import { checkWatch, type StreamSpec, type WatchFindings } from "./watch.js";

export interface Verdict {
  ok: boolean;
  sequence: SequenceFindings;
  registry: RegistryFindings;
  watch: WatchFindings;
  /** Problems of the run itself (a final read that never succeeded): the checks could not be made. */
  incomplete: string[];
}

export function check(
  history: History,
  finals: readonly FinalLookup[],
  etcd: EtcdHistory | undefined,
  streams: readonly StreamSpec[],
  incomplete: string[],
): Verdict {
  const sequence = checkSequence(history.calls);
  const registry = finals.length
    ? checkRegistry(history.calls, finals)
    : { violations: [], checkedPresent: 0, checkedAbsent: 0, unchecked: {} };
  const watch = etcd ? checkWatch(streams, history.watches, etcd.events) : { violations: [], streams: [] };
  const ok =
    incomplete.length === 0 &&
    sequence.violations.length === 0 &&
    registry.violations.length === 0 &&
    watch.violations.length === 0;
  return { ok, sequence, registry, watch, incomplete };
}
