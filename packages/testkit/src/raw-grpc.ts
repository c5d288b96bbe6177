import type http2 from "node:http2";

/**
 * A gRPC message frame, also the Connect streaming envelope: flag byte 0 (not compressed), 4-byte
 * big-endian length, the message.
 */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** A gRPC request stream on `session`, headers sent, body left to the caller (e.g. one that never ends). */
export function openGrpcStream(
  session: http2.ClientHttp2Session,
  path: string,
  headers: http2.OutgoingHttpHeaders = {},
): http2.ClientHttp2Stream {
  return session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...headers,
  });
}

/**
 * One unary gRPC call sent as raw HTTP/2 on `session`, with extra `headers` (a deadline, a token), for
 * what the generated clients will not send. Resolves with the `grpc-status` answered, from the trailers
 * or a trailers-only response; "none" when the stream ended without one.
 */
export function rawGrpcCall(
  session: http2.ClientHttp2Session,
  path: string,
  message: Uint8Array,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = openGrpcStream(session, path, headers);
    let status = "none";
    const read = (received: http2.IncomingHttpHeaders) => {
      if (received["grpc-status"] !== undefined) status = String(received["grpc-status"]);
    };
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("close", () => resolve(status));
    stream.on("error", reject);
    stream.resume();
    stream.end(grpcFrame(message));
  });
}

export interface Http2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on `session` (POST with `body`, GET without), read to its end. */
export function http2Exchange(
  session: http2.ClientHttp2Session,
  path: string,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
): Promise<Http2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": body ? "POST" : "GET", ":path": path, ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (received) => {
      head = received;
    });
    stream.on("trailers", (received) => {
      trailers = received;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () =>
      resolve({ status: Number(head[":status"]), headers: head, trailers, body: Buffer.concat(chunks) }),
    );
    stream.on("error", reject);
    stream.end(body);
  });
}
