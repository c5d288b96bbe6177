import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, relative, sep } from "node:path";
import { HOST } from "./ports.js";

/** A web page on an origin of its own (a free loopback port), as an admin tool's web server serves it. */
export interface StaticSite {
  /** `http://127.0.0.1:<port>`: the page's origin. */
  readonly url: string;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * Serves `files` (URL path → content; `/` answers `/index.html`) on a free loopback port. Paths not
 * among them answer 404, so a page that asks for something unexpected fails visibly.
 */
export async function serveStatic(files: ReadonlyMap<string, string | Buffer>): Promise<StaticSite> {
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://any").pathname;
    const name = path === "/" ? "/index.html" : path;
    const body = files.get(name);
    if (body === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    response.writeHead(200, {
      "content-type": CONTENT_TYPES[extname(name)] ?? "application/octet-stream",
      "cache-control": "no-store",
    });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    url: `http://${HOST}:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Browsers keep connections alive: closing must not wait for them to let go.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every file under `dir` (a built site such as a Vite `dist/`), keyed by its URL path. */
export function filesOf(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(`/${relative(dir, path).split(sep).join("/")}`, readFileSync(path));
  }
  return files;
}

/**
 * How browser tests launch Chromium with playwright-core: Debian's `chromium` (infra/install-deps.sh
 * --with-browser; never a downloaded browser), headless, without what a test does not need.
 */
export const chromiumLaunchOptions = {
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};
