import { connect } from "node:net";
import { httpGet } from "./http-get.js";
import { HOST } from "./ports.js";

/** Whether GET `path` on 127.0.0.1:`port` answers 200 (on a connection of its own, see httpGet). */
export function answersOk(port: number, path: string, signal: AbortSignal): Promise<boolean> {
  return httpGet(`http://${HOST}:${port}${path}`, { signal }).then(
    ({ status }) => status === 200,
    () => false,
  );
}

/** Whether 127.0.0.1:`port` accepts a TCP connection (for servers no HTTP/1.1 request can ask). */
export function acceptsConnections(port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port, signal });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** What a load balancer and an operator see of a service: `/readyz` and gRPC health, by name. */
export interface ReadinessSeen {
  /** `/readyz`'s HTTP status (`http`) and its JSON body (`ready`, `status`, `checks`). */
  readyz: { http: number; ready?: boolean; status?: string; checks?: Record<string, string> };
  /** `grpc.health.v1.Health/Check`'s status (`SERVING`, `NOT_SERVING`) for each name asked. */
  health: Record<string, string>;
}

/** Asks a service at `url` for `/readyz` and, over Connect JSON, `Health/Check` for each of `names`. */
export async function readinessSeen(url: string, names: readonly string[]): Promise<ReadinessSeen> {
  const readyz = await httpGet(`${url}/readyz`);
  const health: Record<string, string> = {};
  for (const name of names) {
    const response = await fetch(`${url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ service: name }),
    });
    health[name] = ((await response.json()) as { status?: string }).status ?? `HTTP ${response.status}`;
  }
  return { readyz: { http: readyz.status, ...(JSON.parse(readyz.body) as object) }, health };
}
