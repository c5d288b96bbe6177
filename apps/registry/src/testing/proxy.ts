import net from "node:net";

/** A TCP proxy in front of one backend whose link a test can cut and restore. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give it to a client instead of the backend's own endpoint. */
  readonly endpoint: string;
  /** Drops every connection and refuses new ones, as a network partition seen from the client. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * Lets a test partition one client (say, one registry instance) from etcd while the test itself keeps
 * talking to etcd directly: the only way to make etcd compact the history a live watch still needs.
 */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  const cut = () => {
    open = false;
    for (const socket of sockets) socket.destroy();
  };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    cut,
    restore: () => {
      open = true;
    },
    close: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
