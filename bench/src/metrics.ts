import { httpGet } from "@im-core/testkit";

/** One sample of a Prometheus text exposition: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** GET <baseUrl>/metrics, parsed; an empty list when the endpoint does not answer. */
export async function scrape(baseUrl: string): Promise<Sample[]> {
  try {
    const { status, body } = await httpGet(`${baseUrl}/metrics`, { timeoutMs: 5000 });
    return status === 200 ? parsePrometheus(body) : [];
  } catch {
    return [];
  }
}

export function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).some(([k, v]) => s.labels[k] !== v)) continue;
    total += s.value;
    found = true;
  }
  return found ? total : Number.NaN;
}

/** Calls of `method` finished between two scrapes, by code (from `rpc_calls_total`). */
export function callDelta(before: Sample[], after: Sample[], method: string): Record<string, number> {
  const codes = new Set(
    after
      .filter((s) => s.name === "rpc_calls_total" && s.labels.method === method)
      .map((s) => s.labels.code!),
  );
  const delta: Record<string, number> = {};
  for (const code of codes) {
    const d =
      sum(after, "rpc_calls_total", { method, code }) -
      (sum(before, "rpc_calls_total", { method, code }) || 0);
    if (d > 0) delta[code] = d;
  }
  return delta;
}
