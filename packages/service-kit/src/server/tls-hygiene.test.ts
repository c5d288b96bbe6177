import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedWithin } from "../testing/sockets.js";
import { startTestServer } from "../testing/test-server.js";
import { selfSignedCertificate } from "../testing/tls.js";
import type { ServiceServer } from "./service-server.js";

const LOOKUP = "/im.registry.v1.RegistryService/Lookup";
const DEADLINE_MS = 300;

/** Runs `feed` every 50 ms while waiting for the server to close `socket`: a trickle keeps nothing open. */
async function closedWhileTrickling(socket: net.Socket, feed: () => void): Promise<number> {
  const trickle = setInterval(feed, 50);
  try {
    return await closedWithin(socket, 2_000);
  } finally {
    clearInterval(trickle);
  }
}

describe("connection hygiene over TLS", () => {
  let server: ServiceServer;
  let port: number;
  let cert: Buffer;
  beforeAll(async () => {
    const certificate = selfSignedCertificate();
    cert = certificate.cert;
    ({ server, port } = await startTestServer({
      tls: certificate,
      headersTimeoutMs: DEADLINE_MS,
      requestBodyTimeoutMs: DEADLINE_MS,
    }));
  });
  afterAll(() => server.close());

  /** A TLS connection that negotiated HTTP/1.1 through ALPN. */
  function http1OverTls(): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: "127.0.0.1", ca: cert, ALPNProtocols: ["http/1.1"] }, () => {
        expect(socket.alpnProtocol).toBe("http/1.1");
        resolve(socket);
      });
      socket.on("error", reject);
    });
  }

  it("closes a connection whose TLS handshake does not finish in time, even if bytes trickle in", async () => {
    for (const start of ["", "\x16"]) {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(start);
      expect(await closedWhileTrickling(socket, () => {})).toBeLessThan(2_000);
    }
  });

  it("closes an HTTP/1.1-over-TLS connection whose request headers do not arrive in time", async () => {
    for (const start of ["", "G", "POST /x HTTP/1.1\r\nHost: a\r\n"]) {
      const socket = await http1OverTls();
      socket.on("error", () => {});
      socket.write(start);
      expect(await closedWhileTrickling(socket, () => socket.write("X-Slow: 1\r\n"))).toBeLessThan(2_000);
    }
  });

  it("closes an HTTP/1.1-over-TLS connection whose request body trickles", async () => {
    const socket = await http1OverTls();
    socket.on("error", () => {});
    socket.write(
      `POST ${LOOKUP} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    expect(await closedWhileTrickling(socket, () => socket.write(" "))).toBeLessThan(2_000);
  });

  it("serves a prompt HTTP/1.1-over-TLS request on a connection made the same way", async () => {
    const socket = await http1OverTls();
    const answer = new Promise<string>((resolve) => socket.once("data", (chunk) => resolve(String(chunk))));
    socket.write("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    socket.destroy();
  });
});
