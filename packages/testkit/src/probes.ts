import { get } from "node:http";
import { connect } from "node:net";
import { HOST } from "./ports.js";

/**
 * Whether GET `path` on 127.0.0.1:`port` answers 200. The request has a connection of its own that closes
 * after the answer: an idle pooled one (as fetch keeps) would hold up the service's graceful shutdown.
 */
export function answersOk(port: number, path: string, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: HOST, port, path, agent: false, signal }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on("error", () => resolve(false));
  });
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
