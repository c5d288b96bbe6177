import http from "node:http";

export interface HttpGetOptions {
  headers?: Record<string, string>;
  /** The whole exchange must end within this. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Default `false`: a connection of its own, closed after the answer (see below). */
  agent?: http.Agent | false;
}

/**
 * GET `url` and read the whole answer. By default over a connection of its own that closes after the
 * answer: fetch keeps idle connections open, and a service shutting down waits for those up to its grace
 * period, which would slow every stop; a flood of fresh connections is also what an attacker sends.
 */
export function httpGet(
  url: string,
  options: HttpGetOptions = {},
): Promise<{ status: number; body: string }> {
  const { headers = {}, timeoutMs = 10_000, signal, agent = false } = options;
  return new Promise((resolve, reject) => {
    const request = http.get(
      url,
      { agent, headers, timeout: timeoutMs, ...(signal ? { signal } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}
