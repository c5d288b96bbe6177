import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";

/** The only interface the kit binds servers to. */
export const HOST = "127.0.0.1";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port, host: HOST, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Picks `count` distinct free TCP ports on 127.0.0.1 by binding port 0.
 * The ports are released before returning, so another process may grab one before the server binds it;
 * callers retry with fresh ports when the server reports EADDRINUSE.
 */
export async function freePorts(count: number): Promise<number[]> {
  // All listeners stay open until every port is picked, so one call never returns the same port twice.
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0));
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === "string") throw new Error("unexpected listener address");
      return address.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** True when nothing listens on 127.0.0.1:`port` (and we may bind it). */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch {
    return false;
  }
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Whether process `pid` holds the listening socket of `port`, read from /proc.
 * A readiness probe alone cannot tell our server from an older one still on that port (TOOLCHAIN gotcha 7).
 * Returns true when /proc is unavailable, as there is then no way to check.
 */
export function ownsListeningPort(pid: number, port: number): boolean {
  const table = ["/proc/net/tcp", "/proc/net/tcp6"].map(readOptional).join("\n");
  if (table.trim() === "") return true;
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    // cols: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (cols[3] === "0A" && cols[1]?.endsWith(`:${portHex}`) && cols[9]) inodes.add(`socket:[${cols[9]}]`);
  }
  if (inodes.size === 0) return false;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
      } catch {
        // fds come and go while we scan
      }
    }
  } catch {
    return false;
  }
  return false;
}
