import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Deadlines } from "../limits/deadlines.js";
import { ConnectionGuard, type ConnectionLimits } from "./connection-guard.js";

/**
 * How long a drained connection still takes requests already on their way (far more than a round trip):
 * only after that are idle connections closed, so a request is never executed and then left unanswered.
 */
const DRAIN_LINGER_MS = 1_000;

/** Marks an HTTP/2 stream the server cut because its body was late (REQUEST_BODY_TIMEOUT_MS). */
export const bodyCut = Symbol("body cut at REQUEST_BODY_TIMEOUT_MS");
export type CutStream = http2.ServerHttp2Stream & { [bodyCut]?: true };

/** Every HTTP/2 connection without TLS ("h2c", prior knowledge) starts with this preface. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export type RequestListener = (
  request: http.IncomingMessage | http2.Http2ServerRequest,
  response: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface OnePortServerOptions {
  /**
   * Time for a connection's first bytes (or its TLS handshake) and for each HTTP/1.1 request's headers;
   * after a response, an HTTP/1.1 connection gets `idleTimeoutMs` more for the next request to begin.
   */
  headersTimeoutMs: number;
  /** Time for a request's whole body, from its headers on: a stream or connection that trickles is cut. */
  requestBodyTimeoutMs: number;
  /** Idle keep-alive time of HTTP/1.1 connections and HTTP/2 sessions. */
  idleTimeoutMs: number;
  /** Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreamsPerConnection: number;
  connections: ConnectionLimits;
  /** Told of every connection refused or closed at a limit, and every request cut for a slow body. */
  onConnectionShed?: () => void;
  onBodyTimeout?: () => void;
  /** With a certificate, TLS offers HTTP/2 and HTTP/1.1 through ALPN on the same port. */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Sees each HTTP/2 stream before Node's compatibility layer, and hands the streams it does not serve
   * itself to `toCompatibilityLayer` (which makes the request/response pair `onRequest` gets).
   */
  onStream?: (
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
    toCompatibilityLayer: StreamListener,
  ) => void;
}

type StreamListener = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

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
  /** The TCP sockets under the HTTP/2 sessions: drained by GOAWAY, never closed under their streams. */
  readonly #sessionSockets = new WeakSet<net.Socket>();
  readonly #sockets = new Set<net.Socket>();
  /** HTTP/1.1 connections and how many requests each is serving: idle ones are closed on shutdown. */
  readonly #http1Requests = new Map<net.Socket, number>();
  readonly #options: OnePortServerOptions;
  readonly #guard: ConnectionGuard;
  /** HTTP/1.1 connections whose next request's headers are due, and the timer that closes them. */
  readonly #headersDeadlines = new Map<net.Socket, NodeJS.Timeout>();
  /**
   * Bodies still due (REQUEST_BODY_TIMEOUT_MS): an HTTP/2 stream is reset (its connection serves on), an
   * HTTP/1.1 connection is closed. Either way the handler's signal aborts, so nothing waits on the body.
   */
  readonly #http2Bodies: Deadlines<http2.ServerHttp2Stream>;
  readonly #http1Bodies: Deadlines<http.IncomingMessage>;
  /** The socket being handed to the HTTP/2 server, whose 'session' event fires synchronously. */
  #handingOver: net.Socket | undefined;
  #closing = false;
  /** Draining, and a request already on its way has had its time to arrive: idle connections close. */
  #lingerOver = false;
  /** HTTP/1.1 responses not finished yet: those whose headers are still unsent get `connection: close`. */
  readonly #http1Responses = new Set<http.ServerResponse>();

  constructor(onRequest: RequestListener, options: OnePortServerOptions) {
    this.#options = options;
    this.#guard = new ConnectionGuard(options.connections, options.onConnectionShed);
    // The body is read by then (the handler's own reading emits 'end'), or it is cut.
    this.#http2Bodies = new Deadlines(options.requestBodyTimeoutMs, (stream) => {
      if (stream.readableEnded) return;
      options.onBodyTimeout?.();
      (stream as CutStream)[bodyCut] = true;
      stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    this.#http1Bodies = new Deadlines(options.requestBodyTimeoutMs, (request) => {
      if (request.readableEnded) return;
      options.onBodyTimeout?.();
      request.socket.destroy();
    });
    const handle: RequestListener = (request, response) => {
      // Draining: an HTTP/1.1 client is told, with this reply, to send nothing more on the connection.
      if (this.#closing && response instanceof http.ServerResponse) response.setHeader("connection", "close");
      onRequest(request, response);
    };
    // Node's own request tracking and header timeouts only cover servers that listen themselves; ours get
    // sockets handed over, so the connection's requests and deadlines are tracked here.
    const trackHttp1 = (request: http.IncomingMessage | http2.Http2ServerRequest, response: unknown) => {
      if (!(request instanceof http.IncomingMessage) || !(response instanceof http.ServerResponse)) return;
      const socket = request.socket;
      this.#clearHeadersDeadline(socket);
      this.#http1Bodies.track(request);
      const running = this.#http1Requests.get(socket);
      if (running === undefined) socket.once("close", () => this.#http1Requests.delete(socket));
      this.#http1Requests.set(socket, (running ?? 0) + 1);
      this.#guard.busy(rawSocketOf(socket), true);
      this.#http1Responses.add(response);
      response.once("close", () => {
        this.#http1Responses.delete(response);
        this.#http1Bodies.forget(request);
        const left = (this.#http1Requests.get(socket) ?? 1) - 1;
        this.#http1Requests.set(socket, left);
        if (left > 0) return;
        this.#guard.busy(rawSocketOf(socket), false);
        // Draining: a reply that said `connection: close` ends its connection by itself; one that said
        // keep-alive (sent before the drain) may still bring a request, so it waits out the linger.
        if (this.#lingerOver) socket.destroy();
        else if (!this.#closing)
          this.#armHeadersDeadline(socket, options.idleTimeoutMs + options.headersTimeoutMs);
      });
    };
    const h2Settings = { settings: { maxConcurrentStreams: options.maxStreamsPerConnection } };
    if (options.tls) {
      const secure = http2.createSecureServer(
        { ...options.tls, ...h2Settings, allowHTTP1: true, handshakeTimeout: options.headersTimeoutMs },
        handle,
      );
      secure.on("request", trackHttp1);
      secure.on("secureConnection", (socket: net.Socket & { alpnProtocol?: string | false }) => {
        if (socket.alpnProtocol === "h2") return;
        this.#armHeadersDeadline(socket, options.headersTimeoutMs);
        socket.once("close", () => this.#clearHeadersDeadline(socket));
      });
      this.#http2 = secure;
      this.#listener = secure;
    } else {
      this.#http1 = http.createServer({ keepAliveTimeout: options.idleTimeoutMs }, handle);
      this.#http1.on("request", trackHttp1);
      this.#http2 = http2.createServer(h2Settings, handle);
      this.#listener = net.createServer((socket) => this.#route(socket));
    }
    if (options.onStream) this.#takeStreams(options.onStream);
    this.#listener.on("connection", (socket: net.Socket) => {
      if (!this.#guard.admit(socket)) return;
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    this.#http2.on("session", (session) => {
      this.#sessions.add(session);
      session.setTimeout(options.idleTimeoutMs, () => session.close());
      session.once("close", () => this.#sessions.delete(session));
      // The cleartext session's socket is a proxy of the one handed over; a TLS one's wraps the raw socket.
      const raw = this.#handingOver ?? rawSocketOf(session.socket as net.Socket);
      this.#sessionSockets.add(raw);
      // A session that starts while the server drains is told at once.
      if (this.#closing) session.close();
      const guard = this.#guard;
      const bodies = this.#http2Bodies;
      let streams = 0;
      // Every call passes here: one listener function per session, not a closure per stream.
      function streamClosed(this: http2.ServerHttp2Stream): void {
        bodies.forget(this);
        if (--streams === 0) guard.busy(raw, false);
      }
      session.on("stream", (stream) => {
        if (streams++ === 0) guard.busy(raw, true);
        if (!stream.endAfterHeaders) bodies.track(stream);
        stream.on("close", streamClosed);
      });
    });
  }

  /** Connections open now (metrics, tests). */
  get connections(): number {
    return this.#guard.open;
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
   * Drains: stops accepting connections. HTTP/2 clients get a GOAWAY at once: the streams it counts
   * finish, later ones are refused unprocessed, which a client can tell and retry. HTTP/1.1 has no such
   * signal, so replies say `connection: close`, and an idle connection is kept for `lingerMs` (longer
   * than a request already sent takes to arrive) to answer such a request before it is closed: a
   * request is never executed and then left unanswered. Resolves when every connection is gone, or
   * destroys the rest after `graceMs`.
   */
  async close(graceMs: number, lingerMs = DRAIN_LINGER_MS): Promise<void> {
    this.#closing = true;
    const listenerClosed = new Promise<void>((resolve) => this.#listener.close(() => resolve()));
    for (const session of this.#sessions) session.close();
    for (const response of this.#http1Responses) {
      if (!response.headersSent) response.setHeader("connection", "close");
    }
    const linger = setTimeout(
      () => {
        this.#lingerOver = true;
        for (const socket of this.#guard.idleSockets()) {
          if (!this.#sessionSockets.has(socket)) socket.destroy();
        }
      },
      Math.min(lingerMs, graceMs),
    );
    const deadline = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, graceMs);
    try {
      await listenerClosed;
    } finally {
      clearTimeout(linger);
      clearTimeout(deadline);
    }
  }

  /**
   * Node's HTTP/2 server makes the compatibility objects in a 'stream' listener it adds with the first
   * 'request' listener; that listener is taken out and handed, per stream, to `onStream`'s fallback.
   */
  #takeStreams(onStream: NonNullable<OnePortServerOptions["onStream"]>): void {
    const listeners = this.#http2.listeners("stream") as StreamListener[];
    if (listeners.length !== 1) {
      throw new Error(
        `expected Node's one HTTP/2 compatibility 'stream' listener, found ${listeners.length}`,
      );
    }
    const compatibilityLayer = listeners[0]!;
    this.#http2.removeListener("stream", compatibilityLayer);
    const takeStream: StreamListener = (stream, headers, flags, rawHeaders) =>
      onStream(stream, headers, flags, rawHeaders, compatibilityLayer);
    this.#http2.on("stream", takeStream);
  }

  /** Closes an HTTP/1.1 connection whose next request's headers have not arrived within `ms`. */
  #armHeadersDeadline(socket: net.Socket, ms: number): void {
    this.#clearHeadersDeadline(socket);
    const timer = setTimeout(() => {
      this.#headersDeadlines.delete(socket);
      socket.destroy();
    }, ms);
    timer.unref();
    this.#headersDeadlines.set(socket, timer);
  }

  #clearHeadersDeadline(socket: net.Socket): void {
    const timer = this.#headersDeadlines.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#headersDeadlines.delete(socket);
  }

  #route(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.setTimeout(this.#options.headersTimeoutMs, () => socket.destroy());
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
        this.#handingOver = socket;
        try {
          this.#http2.emit("connection", socket); // the session reads the buffer on the next tick
        } finally {
          this.#handingOver = undefined;
        }
      } else {
        this.#http1Requests.set(socket, 0);
        socket.once("close", () => {
          this.#http1Requests.delete(socket);
          this.#clearHeadersDeadline(socket);
        });
        this.#armHeadersDeadline(socket, this.#options.headersTimeoutMs);
        this.#http1!.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}

/** The TCP socket under a TLS socket (Node keeps it as `_parent`), or the socket itself. */
function rawSocketOf(socket: net.Socket): net.Socket {
  return (socket as net.Socket & { _parent?: net.Socket })._parent ?? socket;
}
