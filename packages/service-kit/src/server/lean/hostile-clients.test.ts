import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@im-core/common";
import { LookupRequestSchema, LookupResponseSchema, RegistryService } from "@im-core/proto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServiceServer, type ServiceServer } from "../service-server.js";

/**
 * What the lean path does for clients and handlers that break the rules, next to what Connect's
 * adapter does (`leanUnaryPath: false`) where both must agree. The differential tests compare the
 * ordinary cases; these are the ones where a mistake would crash the process or hold a stream forever.
 */
const warnings: Record<string, unknown>[] = [];

function startServer(lean: boolean): ServiceServer {
  return createServiceServer({
    service: RegistryService,
    accessPolicy: {},
    logger: pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line)) }),
    readiness: [],
    settings: { leanUnaryPath: lean, streamStallTimeoutMs: 200, shutdownGraceMs: 500 },
    routes: (router) =>
      router.service(RegistryService, {
        lookup(request, context) {
          switch (request.userId) {
            case "connection-header":
              context.responseHeader.set("connection", "close");
              return { revision: 1n };
            case "deadline":
              return { revision: context.signal.aborted ? 1n : 2n };
            case "unencodable-error":
              // A detail whose value protobuf cannot encode (revision is an int64).
              throw new ConnectError("bad detail", Code.InvalidArgument, undefined, [
                { desc: LookupResponseSchema, value: { revision: "not a number" as unknown as bigint } },
              ]);
            default:
              return { revision: 7n };
          }
        },
      }),
  });
}

const lookup = (userId: string) =>
  Buffer.from(toBinary(LookupRequestSchema, create(LookupRequestSchema, { userId })));
const grpcFrame = (message: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);

interface Answer {
  status?: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  rstCode?: number;
  body: Buffer;
}

function call(
  url: string,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer,
  opts: { settings?: http2.Settings; sendAfterMs?: number } = {},
): Promise<Answer> {
  const session = http2.connect(url, opts.settings ? { settings: opts.settings } : {});
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": "/im.registry.v1.RegistryService/Lookup",
    ...headers,
  });
  const answer: Answer = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
  stream.on("response", (h) => {
    answer.status = Number(h[":status"]);
    answer.headers = h;
  });
  stream.on("trailers", (t) => {
    answer.trailers = t;
  });
  stream.on("error", () => {});
  stream.on("data", (chunk: Buffer) => {
    answer.body = Buffer.concat([answer.body, chunk]);
  });
  if (opts.sendAfterMs === undefined) stream.end(body);
  else setTimeout(() => stream.end(body), opts.sendAfterMs);
  return new Promise((resolve) =>
    stream.on("close", () => {
      answer.rstCode = stream.rstCode;
      session.destroy();
      resolve(answer);
    }),
  );
}

describe.each([
  { path: "lean path", lean: true },
  { path: "Connect's adapter", lean: false },
])("on the $path", ({ lean }) => {
  let server: ServiceServer;
  let url: string;
  beforeAll(async () => {
    server = startServer(lean);
    url = `http://127.0.0.1:${(await server.listen(0, "127.0.0.1")).port}`;
  });
  afterAll(() => server.close());

  it("answers an authority that makes no URL with 400 (HTTP/2 and HTTP/1.1), and serves on", async () => {
    const h2 = await call(
      url,
      { ":authority": "a:b", "content-type": "application/grpc" },
      grpcFrame(lookup("u")),
    );
    expect(h2.status).toBe(400);
    const port = Number(new URL(url).port);
    const h1 = await new Promise<string>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () =>
        socket.end(
          "POST /im.registry.v1.RegistryService/Lookup HTTP/1.1\r\nHost: a:b\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        ),
      );
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString();
      });
      socket.on("close", () => resolve(text));
    });
    expect(h1).toMatch(/^HTTP\/1\.1 400/);
    const after = await call(url, { "content-type": "application/grpc" }, grpcFrame(lookup("u")));
    expect(after.trailers["grpc-status"]).toBe("0");
  });

  it("drops a connection-specific header a handler sets, and answers", async () => {
    const answer = await call(
      url,
      { "content-type": "application/grpc" },
      grpcFrame(lookup("connection-header")),
    );
    expect(answer.trailers["grpc-status"]).toBe("0");
    expect(answer.headers.connection).toBeUndefined();
  });

  it("counts a client's deadline from the call's headers, not from the end of a slow body", async () => {
    const answer = await call(
      url,
      { "content-type": "application/proto", "connect-timeout-ms": "200" },
      lookup("deadline"),
      { sendAfterMs: 400 },
    );
    // The handler saw its signal already aborted (revision 1), as Connect's own handler context has it.
    expect(answer.status).toBe(200);
    expect(fromBinary(LookupResponseSchema, answer.body).revision).toBe(1n);
  });
});

describe("on the lean path only", () => {
  let server: ServiceServer;
  let url: string;
  beforeAll(async () => {
    server = startServer(true);
    url = `http://127.0.0.1:${(await server.listen(0, "127.0.0.1")).port}`;
  });
  afterAll(() => server.close());

  it("resets the stream and logs when an error answer cannot be encoded, and serves on", async () => {
    warnings.length = 0;
    const answer = await call(
      url,
      { "content-type": "application/grpc" },
      grpcFrame(lookup("unencodable-error")),
    );
    expect(answer.rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
    expect(warnings.some((line) => String(line.msg).includes("could not be written"))).toBe(true);
    const after = await call(url, { "content-type": "application/grpc" }, grpcFrame(lookup("u")));
    expect(after.trailers["grpc-status"]).toBe("0");
  });

  it("resets an answer its client never reads after STREAM_STALL_TIMEOUT_MS", async () => {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        call(url, { "content-type": "application/grpc" }, grpcFrame(lookup("u")), {
          settings: { initialWindowSize: 0 },
        }),
      ),
    );
    const elapsed = performance.now() - started;
    expect(answers.map((answer) => answer.rstCode)).toEqual(Array(5).fill(http2.constants.NGHTTP2_CANCEL));
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(3_000);
    await sleep(10);
  });
});
