/** Nearest-rank p50 and p99 of `values` (need not be sorted); NaN when empty. */
export function percentiles(values: ArrayLike<number>): { p50: number; p99: number } {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { p50: at(50), p99: at(99) };
}
