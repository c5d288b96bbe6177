import type { RunResult } from "./run.js";

const SHOWN = 20;

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Calls by service and RPC: acknowledged, refused by code, indeterminate by code. */
function callTable(result: RunResult): string[] {
  const rows = new Map<string, { ok: number; fail: Map<string, number>; unknown: Map<string, number> }>();
  for (const c of result.history.calls) {
    const key = `${c.service} ${c.rpc}${c.worker === "final" ? " (final)" : ""}`;
    const row = rows.get(key) ?? { ok: 0, fail: new Map(), unknown: new Map() };
    rows.set(key, row);
    if (c.outcome === "ok") row.ok++;
    else {
      const bucket = c.outcome === "fail" ? row.fail : row.unknown;
      const code = c.outcome === "indeterminate" && !c.answered ? `${c.code}†` : c.code!;
      bucket.set(code, (bucket.get(code) ?? 0) + 1);
    }
  }
  const codes = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(", ") || "-";
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return [
    "| call | ok | refused (code: count) | indeterminate (code: count) |",
    "| --- | ---: | --- | --- |",
    ...[...rows]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([key, r]) =>
          `| ${key} | ${r.ok} | ${total(r.fail)}: ${codes(r.fail)} | ${total(r.unknown)}: ${codes(r.unknown)} |`,
      ),
  ];
}

/** The run's report, in Markdown (it is also what `results/` keeps). */
export function formatReport(result: RunResult): string {
  const { history, verdict, outages, options } = result;
  const calls = history.calls;
  const indeterminate = calls.filter((c) => c.outcome === "indeterminate").length;
  const lines: string[] = [];
  lines.push(`# Chaos run, seed ${options.seed}`, "");
  lines.push(
    `Replay: \`pnpm chaos -- --seed ${options.seed} --seconds ${Math.round(options.durationMs / 1000)}${options.faults ? ` --faults ${options.faults.join(",")}` : ""}\``,
    "",
  );
  lines.push(
    `- deployment start: ${s(result.startupMs)}; workload: ${s(result.workloadMs.toMs - result.workloadMs.fromMs)}; final reads: ${s(result.finalPhaseMs)}`,
    `- calls: ${calls.length} (${indeterminate} indeterminate); Watch calls: ${history.watches.length}`,
    "",
    "## Calls",
    "",
    ...callTable(result),
    "",
    "† no answer from the service (connection lost, client deadline): the call may or may not have taken effect.",
    "",
    "## Faults",
    "",
    "| injected | healed | fault | what |",
    "| ---: | ---: | --- | --- |",
    ...history.faults.map(
      (f) =>
        `| ${s(f.injectMs)} | ${f.healMs === undefined ? "-" : s(f.healMs)} | ${f.kind} | ${f.detail}${f.error ? ` (error: ${f.error})` : ""} |`,
    ),
    "",
    "## Outages (no call of the service acknowledged for more than 1 s)",
    "",
  );
  if (outages.length === 0) lines.push("none");
  else {
    lines.push("| service | from | to | length | last fault before |", "| --- | ---: | ---: | ---: | --- |");
    for (const o of outages)
      lines.push(
        `| ${o.service} | ${s(o.fromMs)} | ${s(o.toMs)} | ${s(o.toMs - o.fromMs)} | ${o.fault ?? "-"} |`,
      );
  }
  const { sequence, registry, watch } = verdict;
  const jump = sequence.maxJump;
  lines.push(
    "",
    "## Checks",
    "",
    `- sequence: ${sequence.ranges} acknowledged ranges (${sequence.numbers} numbers) over ${sequence.conversations} conversations; max jump ${jump ? `${jump.jump} (${jump.conversation}: ${jump.from} → ${jump.to})` : "-"}`,
    `- registry: ${registry.checkedPresent} devices must be present, ${registry.checkedAbsent} absent; unchecked: ${
      Object.entries(registry.unchecked)
        .map(([why, n]) => `${n} ${why}`)
        .join(", ") || "none"
    }`,
    "- watch streams:",
    ...watch.streams.map(
      (st) =>
        `  - ${st.stream} (${st.userIds.length ? `${st.userIds.length} users` : "every user"}): ${st.events} events over (${st.from}, ${st.to}], ${st.segments} Watch calls, ends: ${Object.entries(
          st.ends,
        )
          .map(([end, n]) => `${end} ${n}`)
          .join(", ")}`,
    ),
    "",
    `## Verdict: ${verdict.ok ? "CLEAN" : "VIOLATIONS"}`,
    "",
  );
  /** The first few of each kind: a broken run can have thousands, all in the --history file's terms. */
  const shown = (kind: string, list: string[]) => [
    ...list.slice(0, SHOWN).map((v) => `- ${kind}: ${v}`),
    ...(list.length > SHOWN ? [`- ${kind}: … ${list.length} in all`] : []),
  ];
  const all = [
    ...shown("incomplete", verdict.incomplete),
    ...shown("sequence", sequence.violations),
    ...shown("registry", registry.violations),
    ...shown("watch", watch.violations),
  ];
  lines.push(...(all.length ? all : ["no violation"]));
  return `${lines.join("\n")}\n`;
}
