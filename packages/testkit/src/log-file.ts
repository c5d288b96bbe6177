import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

/** Bytes of `file` from `from` to its current end; empty when it does not exist yet. */
function readFrom(file: string, from: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.max(0, size - from));
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/** Current size of `file`, 0 when it does not exist yet. */
export function logSize(file: string): number {
  try {
    const fd = openSync(file, "r");
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** The last 40 lines (at most `maxBytes`) of `file` written since byte offset `from`. */
export function logTail(file: string, from = 0, maxBytes = 4096): string {
  const text = readFrom(file, Math.max(from, logSize(file) - maxBytes)).toString("utf8");
  return text === "" ? "(nothing logged)" : text.split("\n").slice(-40).join("\n");
}

/** Lines appended to a log file, handed on as they come; see {@link followLog}. */
export interface LogFollower {
  /** Hands on the complete lines written since the last read, now rather than at the next poll. */
  poll(): void;
  /** Hands on what is left, including an unterminated last line, and stops following. */
  stop(): void;
}

/**
 * Calls `onLine` with every complete line appended to `file` from now on, polling every `intervalMs`
 * (the server writes to the file directly, so it keeps logging even if this process stalls).
 */
export function followLog(file: string, onLine: (line: string) => void, intervalMs = 100): LogFollower {
  let offset = logSize(file);
  let partial = "";
  // A read may end inside a multi-byte character; the decoder keeps its first bytes for the next one.
  const decoder = new StringDecoder("utf8");
  const poll = () => {
    const chunk = readFrom(file, offset);
    offset += chunk.length;
    const lines = (partial + decoder.write(chunk)).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  };
  // Unref'd: following a log must not keep its owner alive once everything else is done.
  const timer = setInterval(poll, intervalMs).unref();
  return {
    poll,
    stop() {
      clearInterval(timer);
      poll();
      if (partial !== "") onLine(partial);
      partial = "";
    },
  };
}
