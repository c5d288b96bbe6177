import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

/** `2026-12-02 11:30:05 UTC`: one zone for every operator reading the same incident. */
export function formatUtc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function formatTimestamp(timestamp: Timestamp | undefined): string {
  return timestamp ? formatUtc(timestampDate(timestamp)) : "unknown";
}

/** `4 s`, `12 min`, `3 h 5 min`, `2 d 4 h`: how long, at a glance. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** For how long a device has been connected, from its `connected_at`. */
export function connectedFor(timestamp: Timestamp | undefined, now = Date.now()): string {
  return timestamp ? formatDuration(now - timestampDate(timestamp).getTime()) : "";
}

/** User ids typed by an operator: separated by commas, spaces or new lines, each once, in order. */
export function parseIdList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((id) => id !== ""))];
}
