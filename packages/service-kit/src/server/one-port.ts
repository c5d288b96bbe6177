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
}

/**
 * One TCP port for every protocol: Node's cleartext HTTP/2 server rejects HTTP/1.1 and vice
 * versa, so each connection's first bytes decide which server gets it. gRPC and Connect over h2c
 * go to HTTP/2; curl, browsers (Connect JSON, gRPC-Web) and HTTP/1.1 clients to HTTP/1.1.
 */
export class OnePortServer {
  readonly #listener = net.createServer((socket) => this.#route(socket));
  readonly #http1: http.Server;
  readonly #http2: http2.Http2Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #options: OnePortServerOptions;
  #closing = false;

  constructor(onRequest: RequestListener, options: OnePortServerOptions) {
    this.#options = options;
    this.#http1 = http.createServer({ keepAliveTimeout: options.idleTimeoutMs }, onRequest);
    this.#http1.on("request", (_request, response: http.ServerResponse) => {
      if (this.#closing) response.setHeader("connection", "close");
    });
    this.#http2 = http2.createServer({}, onRequest);
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
    this.#http1.closeIdleConnections();
    const idleSweep = setInterval(() => this.#http1.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, graceMs);
    try {
      await listenerClosed;
    } finally {
      clearInterval(idleSweep);
      clearTimeout(deadline);
    }
  }

  #route(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
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
        this.#http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}
