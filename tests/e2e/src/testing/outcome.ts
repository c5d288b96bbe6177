import { request as httpRequest } from "node:http";

export type ConnectAnswer<T> = { ok: true; message: T } | { ok: false; code: string; message: string };

/**
 * One unary call in the Connect protocol with JSON over HTTP/1.1, as a browser or curl makes it. Each
 * call has a connection of its own: a pooled idle one would make a stopping service wait for it.
 */
export function connectJson<T>(
  baseUrl: string,
  procedure: string,
  message: unknown,
  headers: Record<string, string> = {},
): Promise<ConnectAnswer<T>> {
  const body = JSON.stringify(message);
  return new Promise((resolveAnswer, reject) => {
    const request = httpRequest(
      `${baseUrl}/${procedure}`,
      {
        method: "POST",
        agent: false,
        timeout: 10_000,
        headers: { "content-type": "application/json", "connect-protocol-version": "1", ...headers },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          try {
            const parsed = JSON.parse(text) as Record<string, unknown>;
            if (response.statusCode === 200) resolveAnswer({ ok: true, message: parsed as T });
            else
              resolveAnswer({ ok: false, code: String(parsed.code), message: String(parsed.message ?? "") });
          } catch {
            reject(
              new Error(`${procedure}: HTTP ${response.statusCode} with a body that is not JSON: ${text}`),
            );
          }
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${procedure} timed out`)));
    request.on("error", reject);
    request.end(body);
  });
}
