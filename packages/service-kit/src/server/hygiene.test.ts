import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RegistryService } from "@im-core/proto";
import { eventually, openGrpcStream } from "@im-core/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenTable } from "../security/tokens.js";
import { closedWithin } from "../testing/sockets.js";
import { backend, gatewayToken, startTestServer } from "../testing/test-server.js";
import type { ServiceServer } from "./service-server.js";

const LOOKUP = "/im.registry.v1.RegistryService/Lookup";
const WATCH = "/im.registry.v1.RegistryService/Watch";

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

/** An HTTP/2 request whose body starts but never ends. */
function unfinished(
  session: http2.ClientHttp2Session,
  path: string,
  headers: http2.OutgoingHttpHeaders = {},
) {
  const stream = openGrpcStream(session, path, headers);
  stream.write(Buffer.from([0, 0, 0]));
  return stream;
}

describe("connection and stream hygiene", () => {
  let server: ServiceServer;
  let baseUrl: string;
  let port: number;
  beforeAll(async () => {
    ({ server, baseUrl, port } = await startTestServer({
      maxStreamsPerConnection: 5,
      headersTimeoutMs: 300,
      requestBodyTimeoutMs: 300,
    }));
  });
  afterAll(() => server.close());

  it("advertises its per-connection stream limit in SETTINGS", async () => {
    const session = http2.connect(baseUrl);
    try {
      const settings = await new Promise<http2.Settings>((resolve) =>
        session.once("remoteSettings", resolve),
      );
      expect(settings.maxConcurrentStreams).toBe(5);
    } finally {
      session.close();
    }
  });

  it("resets an HTTP/2 stream whose body does not arrive in time; the connection serves on", async () => {
    const session = http2.connect(baseUrl);
    try {
      const stream = unfinished(session, LOOKUP);
      stream.resume();
      const started = performance.now();
      const code = await new Promise<number>((resolve) =>
        stream.once("close", () => resolve(stream.rstCode)),
      );
      expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(performance.now() - started).toBeLessThan(2_000);
      const healthy = session.request({ ":path": "/healthz" });
      const status = await new Promise((resolve) => healthy.once("response", (h) => resolve(h[":status"])));
      healthy.resume();
      expect(status).toBe(200);
    } finally {
      session.close();
    }
  });

  it("closes an HTTP/1.1 connection whose request headers do not arrive in time, whatever its first bytes", async () => {
    for (const start of ["", "G", "POST /x HTTP/1.1\r\nHost: a\r\n"]) {
      const socket = await connect(port);
      socket.write(start);
      // Trickled header lines do not keep it open either.
      const trickle = setInterval(() => socket.write("X-Slow: 1\r\n"), 50);
      try {
        expect(await closedWithin(socket, 2_000)).toBeLessThan(2_000);
      } finally {
        clearInterval(trickle);
      }
    }
  });

  it("closes an HTTP/1.1 connection whose request body trickles", async () => {
    const socket = await connect(port);
    socket.write(
      `POST ${LOOKUP} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    const trickle = setInterval(() => socket.write(" "), 50);
    try {
      expect(await closedWithin(socket, 2_000)).toBeLessThan(2_000);
    } finally {
      clearInterval(trickle);
    }
  });
});

describe("a caller without a valid token", () => {
  let server: ServiceServer;
  let baseUrl: string;
  beforeAll(async () => {
    ({ server, baseUrl } = await startTestServer({
      tokens: new TokenTable([{ token: gatewayToken, role: "gateway", gatewayNodes: "any" }]),
      requestBodyTimeoutMs: 30_000,
    }));
  });
  afterAll(() => server.close());

  it("is answered over gRPC before its body is read, and the stream ends", async () => {
    const session = http2.connect(baseUrl);
    try {
      for (const authorization of [undefined, "Bearer not-a-token-we-know-of"]) {
        const stream = unfinished(session, LOOKUP, authorization ? { authorization } : {});
        stream.resume();
        const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          stream.once("trailers", resolve);
          stream.once("response", (headers) => headers["grpc-status"] && resolve(headers));
          setTimeout(() => reject(new Error("no answer before the body")), 2_000);
        });
        expect(trailers["grpc-status"]).toBe("16"); // UNAUTHENTICATED
        await new Promise((resolve) => stream.once("close", resolve));
      }
    } finally {
      session.close();
    }
  });

  it("is answered over Connect (unary and streaming, HTTP/1.1) before its body is read", async () => {
    const cases = [
      { path: LOOKUP, type: "application/json", status: 401 },
      { path: LOOKUP, type: "application/proto", status: 401 },
      { path: WATCH, type: "application/connect+json", status: 200 },
      { path: LOOKUP, type: "application/grpc-web+proto", status: 200 },
    ];
    for (const { path, type, status } of cases) {
      const answer = await new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>(
        (resolve, reject) => {
          const request = http.request(
            `${baseUrl}${path}`,
            { method: "POST", headers: { "content-type": type, "content-length": "100000" }, agent: false },
            (response) => {
              let body = "";
              response.on("data", (chunk) => (body += chunk));
              response.on("end", () =>
                resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
              );
            },
          );
          request.on("error", () => {});
          request.write("{");
          setTimeout(() => reject(new Error(`${type}: no answer before the body`)), 2_000);
        },
      );
      expect(answer.status, `${type}: ${answer.body}`).toBe(status);
      const said = `${answer.body} ${answer.headers["grpc-status"] ?? ""}`;
      expect(said, type).toMatch(/unauthenticated|16/);
    }
  });
});

describe("connection limits", () => {
  let server: ServiceServer;
  let port: number;
  beforeAll(async () => {
    ({ server, port } = await startTestServer({
      maxConnections: 3,
      maxConnectionsPerPeer: 3,
      defaultCallTimeoutMs: 10_000,
    }));
  });
  afterAll(() => server.close());

  it("closes the longest-idle connection to admit a new one, and refuses one when all are busy", async () => {
    const idle = [await connect(port), await connect(port), await connect(port)];
    const closed = closedWithin(idle[0]!, 2_000);
    const fresh = await connect(port);
    await closed; // the longest idle made room
    fresh.write("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    const answer = await new Promise<string>((resolve) =>
      fresh.once("data", (data) => resolve(String(data))),
    );
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    for (const socket of [...idle, fresh]) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Three connections each busy with a call that hangs: the fourth has no one to take the place of.
    const hangingBefore = backend.hanging;
    const sessions = Array.from({ length: 3 }, () => http2.connect(`http://127.0.0.1:${port}`));
    const hanging = sessions.map((session) => {
      const stream = session.request({
        ":method": "POST",
        ":path": LOOKUP,
        "content-type": "application/json",
      });
      stream.end(JSON.stringify({ userId: "hang" }));
      stream.resume();
      stream.on("error", () => {});
      return stream;
    });
    await eventually(() => expect(backend.hanging).toBe(hangingBefore + 3));
    const refused = await connect(port);
    expect(await closedWithin(refused, 2_000)).toBeLessThan(2_000);
    for (const stream of hanging) stream.close();
    for (const session of sessions) session.destroy();
  });
});

describe("Watch streams per token", () => {
  const tokens = ["router-one-token-0123456789", "router-two-token-0123456789"];
  let server: ServiceServer;
  let baseUrl: string;
  beforeAll(async () => {
    ({ server, baseUrl } = await startTestServer({
      tokens: new TokenTable(tokens.map((token) => ({ token, role: "router" as const }))),
      maxStreams: 10,
      maxStreamsPerToken: 2,
    }));
  });
  afterAll(() => server.close());

  it("caps the streams one token holds, leaving room for the others", async () => {
    const client = createClient(RegistryService, createGrpcTransport({ baseUrl }));
    const abort = new AbortController();
    const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    try {
      const open = [tokens[0]!, tokens[0]!].map((token) =>
        client.watch({}, as(token))[Symbol.asyncIterator](),
      );
      await Promise.all(open.map((stream) => stream.next()));
      await expect(client.watch({}, as(tokens[0]!))[Symbol.asyncIterator]().next()).rejects.toMatchObject({
        code: Code.ResourceExhausted,
        rawMessage: expect.stringMatching(/for this token/),
      });
      await expect(client.watch({}, as(tokens[1]!))[Symbol.asyncIterator]().next()).resolves.toMatchObject({
        done: false,
      });
    } finally {
      abort.abort();
    }
  });
});
