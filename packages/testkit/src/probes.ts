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
