import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/** Every HTTP/2 connection without TLS ("h2c", prior knowledge) starts with this preface. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export type RequestListener = (
  request: http.IncomingMessage | http2.Http2ServerRequest,
  response: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface OnePortServerOptions {
  /** A connection that sends nothing for this long is closed (slow or idle clients). */
  firstBytesTimeoutMs: number;
  /** Idle keep-alive time of HTTP/1.1 connections and HTTP/2 sessions. */
  idleTimeoutMs: number;
  /** With a certificate, TLS offers HTTP/2 and HTTP/1.1 through ALPN on the same port. */
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * One TCP port for every protocol. With TLS, ALPN picks HTTP/2 or HTTP/1.1. Without it, Node's
 * cleartext HTTP/2 server rejects HTTP/1.1 and vice versa, so each connection's first bytes decide:
 * gRPC and Connect over h2c go to HTTP/2; curl, browsers (Connect JSON, gRPC-Web) to HTTP/1.1.
 */
export class OnePortServer {
  readonly #listener: net.Server;
  readonly #http1: http.Server | undefined;
  readonly #http2: http2.Http2Server | http2.Http2SecureServer;
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #sockets = new Set<net.Socket>();
  /** HTTP/1.1 connections and how many requests each is serving: idle ones are closed on shutdown. */
  readonly #http1Requests = new Map<net.Socket, number>();
  readonly #options: OnePortServerOptions;
  #closing = false;

  constructor(onRequest: RequestListener, options: OnePortServerOptions) {
    this.#options = options;
    // Node's own idle tracking only covers servers that listen themselves; ours get sockets handed over.
    const trackHttp1 = (request: http.IncomingMessage | http2.Http2ServerRequest, response: unknown) => {
      if (!(response instanceof http.ServerResponse)) return;
      const socket = request.socket as net.Socket;
      const running = this.#http1Requests.get(socket);
      if (running === undefined) socket.once("close", () => this.#http1Requests.delete(socket));
      this.#http1Requests.set(socket, (running ?? 0) + 1);
      if (this.#closing) response.setHeader("connection", "close");
      response.once("close", () => {
        const left = (this.#http1Requests.get(socket) ?? 1) - 1;
        this.#http1Requests.set(socket, left);
        if (this.#closing && left === 0) socket.end();
      });
    };
    if (options.tls) {
      const secure = http2.createSecureServer({ ...options.tls, allowHTTP1: true }, onRequest);
      secure.on("request", trackHttp1);
      this.#http2 = secure;
      this.#listener = secure;
    } else {
      this.#http1 = http.createServer(
        { keepAliveTimeout: options.idleTimeoutMs, headersTimeout: 10_000 },
        onRequest,
      );
      this.#http1.on("request", trackHttp1);
      this.#http2 = http2.createServer({}, onRequest);
      this.#listener = net.createServer((socket) => this.#route(socket));
    }
    this.#listener.on("connection", (socket: net.Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    this.#http2.on("session", (session) => {
      this.#sessions.add(session);
      session.setTimeout(options.idleTimeoutMs, () => session.close());
      session.once("close", () => this.#sessions.delete(session));
    });
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#listener.once("error", reject);
      this.#listener.listen(port, host, () => {
        this.#listener.off("error", reject);
        resolve(this.#listener.address() as net.AddressInfo);
      });
    });
  }

  /**
   * Stops accepting connections, asks HTTP/2 clients to go away (GOAWAY lets open streams finish)
   * and closes HTTP/1.1 connections as they fall idle. Resolves when every connection is gone, or
   * destroys the rest after `graceMs`.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    const listenerClosed = new Promise<void>((resolve) => this.#listener.close(() => resolve()));
    for (const session of this.#sessions) {
      session.close();
    }
    for (const [socket, requests] of this.#http1Requests) {
      if (requests === 0) socket.end();
    }
    const deadline = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, graceMs);
    try {
      await listenerClosed;
    } finally {
      clearTimeout(deadline);
    }
  }

  #route(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.setTimeout(this.#options.firstBytesTimeoutMs, () => socket.destroy());
    let received: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const compared = Math.min(received.length, HTTP2_PREFACE.length);
      const looksLikeHttp2 = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      if (looksLikeHttp2 && received.length < HTTP2_PREFACE.length) {
        return; // the preface arrived in pieces: wait for the rest before deciding
      }
      socket.off("data", onData);
      socket.setTimeout(0);
      // Paused, so the unshifted bytes wait in the buffer for the server that takes the socket.
      socket.pause();
      socket.unshift(received);
      if (looksLikeHttp2) {
        this.#http2.emit("connection", socket); // the session reads the buffer on the next tick
      } else {
        this.#http1Requests.set(socket, 0);
        socket.once("close", () => this.#http1Requests.delete(socket));
        this.#http1!.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}
