import net from "node:net";
import { HOST } from "./ports.js";

/**
 * A loopback TCP proxy in front of a backend, for faults the servers themselves cannot show: a
 * network partition of one client (cut/restore) or a failover that moves clients to another server
 * (switchTo).
 */
export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: give it to a client instead of the backend's own endpoint. */
  readonly endpoint: string;
  /** Drops every connection and refuses new ones, as a partition seen from the client. */
  cut(): void;
  /** Accepts connections again after {@link TcpProxy.cut}. */
  restore(): void;
  /** Points new connections at `port` and drops every open one, as a failover would. */
  switchTo(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let accepting = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!accepting) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target, HOST);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port,
    endpoint: `http://${HOST}:${port}`,
    cut() {
      accepting = false;
      dropAll();
    },
    restore() {
      accepting = true;
    },
    switchTo(newTarget) {
      target = newTarget;
      dropAll();
    },
    async close() {
      accepting = false;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
