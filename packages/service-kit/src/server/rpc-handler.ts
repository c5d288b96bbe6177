import type http from "node:http";
import http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createConnectRouter,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { refusalKey } from "../security/auth-interceptor.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** A call as handed to Connect: its context values are always set, and shared with its interceptors. */
export type RpcCall = UniversalServerRequest & { readonly contextValues: ContextValues };

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /**
   * Decides from a call's headers alone: admitted, with values for its handler's context, or refused. A
   * refused call never has its body read: Connect is handed an empty message instead, and the
   * interceptors fail the call with the refusal (read from `refusalKey`).
   */
  admit?: (
    method: DescMethod,
    request: Request,
  ) => { values: ContextValues } | { refusal: ConnectError } | undefined;
  /**
   * Sees Connect's answer to each call of a known method before it is written, and may pass on another
   * (e.g. one whose body is observed as it is written): the one place that sees every call, whatever
   * the protocol, including those Connect answers without running the interceptors.
   */
  onAnswer?: (method: DescMethod, call: RpcCall, answer: UniversalServerResponse) => UniversalServerResponse;
  /** A handler failed after its response had started (e.g. a reset stream). */
  onHandlerError?: (method: DescMethod, reason: unknown) => void;
}

export interface RpcHandler {
  /** The method served at `path`, if any. */
  methodAt(path: string): DescMethod | undefined;
  handle(request: Request, response: Response, path: string): void;
  /**
   * Connect's answer to a call handed over as a universal request (whose context values carry its
   * admission, as `handle` makes them), passed through `onAnswer`: the lean path's way back to Connect.
   */
  answer(path: string, call: RpcCall): Promise<UniversalServerResponse> | undefined;
  /** The implementations of the unary methods, by path, as the routes registered them. */
  readonly unaryMethods: ReadonlyMap<string, UnaryImplementation>;
}

/** A unary method and the function the routes gave for it. */
export interface UnaryImplementation {
  readonly method: DescMethod;
  readonly impl: (request: unknown, context: HandlerContext) => unknown;
}

/**
 * Connect's Node adapter (connectNodeAdapter), built from Connect's own public parts so that a call can
 * be refused on its headers before its body is read; everything else (protocols, encodings, errors) is
 * Connect's.
 */
export function createRpcHandler(options: RpcHandlerOptions): RpcHandler {
  const router = createConnectRouter({ acceptCompression, ...options });
  const unaryMethods = new Map<string, UnaryImplementation>();
  options.routes(recordingUnaryMethods(router, unaryMethods));
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const { onAnswer } = options;
  return {
    methodAt: (path) => handlers.get(path)?.method,
    unaryMethods,
    answer(path, call) {
      const handler = handlers.get(path);
      if (!handler) return undefined;
      return handler(call).then((answer) => (onAnswer ? onAnswer(handler.method, call, answer) : answer));
    },
    handle(request, response, path) {
      const handler = handlers.get(path);
      if (!handler) {
        response.writeHead(404);
        response.end();
        return;
      }
      const admission = options.admit?.(handler.method, request);
      const refusal = admission && "refusal" in admission ? admission.refusal : undefined;
      // Connect would make them otherwise, out of `onAnswer`'s sight.
      const contextValues = refusal
        ? createContextValues().set(refusalKey, refusal)
        : admission && "values" in admission
          ? admission.values
          : createContextValues();
      let universal: UniversalServerRequest;
      try {
        universal = universalRequestFromNodeRequest(request, response, undefined, contextValues);
      } catch {
        // An authority that makes no URL (`Host: a:b`): Connect's adapter would throw out of the listener.
        response.writeHead(400);
        response.end();
        return;
      }
      if (refusal) response.once("finish", () => dropUnreadBody(request));
      // Carries the context values it was given (the type leaves them optional).
      const call = (refusal ? withoutBody(universal) : universal) as RpcCall;
      handler(call)
        .then((answer) =>
          universalResponseToNodeResponse(
            onAnswer ? onAnswer(handler.method, call, answer) : answer,
            response,
          ),
        )
        .catch((reason: unknown) => {
          if (ConnectError.from(reason).code !== Code.Aborted)
            options.onHandlerError?.(handler.method, reason);
        });
    },
  };
}

/** The compressions Connect accepts and offers (also the lean path's, for its answers). */
export const acceptCompression = [compressionGzip, compressionBrotli];

/**
 * The router as the routes see it: every unary method registered without options of its own is noted
 * with its implementation, for the lean path; the registration itself is Connect's, unchanged.
 */
function recordingUnaryMethods(router: ConnectRouter, into: Map<string, UnaryImplementation>): ConnectRouter {
  const note = (method: DescMethod, impl: unknown) => {
    if (method.methodKind !== "unary" || typeof impl !== "function") return;
    into.set(`/${method.parent.typeName}/${method.name}`, {
      method,
      impl: impl as UnaryImplementation["impl"],
    });
  };
  const recording: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, implementation, handlerOptions) {
      router.service(service, implementation, handlerOptions);
      // Registered again with options of its own: only Connect's path applies those.
      for (const method of service.methods) into.delete(`/${service.typeName}/${method.name}`);
      if (handlerOptions === undefined) {
        const impl = implementation as Record<string, unknown>;
        for (const method of service.methods) {
          const fn = impl[method.localName];
          if (typeof fn === "function") note(method, fn.bind(implementation));
        }
      }
      return recording;
    },
    rpc(method, impl, handlerOptions) {
      router.rpc(method, impl, handlerOptions);
      into.delete(`/${method.parent.typeName}/${method.name}`);
      if (handlerOptions === undefined) note(method, impl);
      return recording;
    },
  };
  return recording;
}

/** The request with an empty message in its own encoding in place of its body, which stays unread. */
function withoutBody(request: UniversalServerRequest): UniversalServerRequest {
  const header = new Headers(request.header);
  // The stand-in is never compressed.
  for (const name of ["content-length", "content-encoding", "connect-content-encoding", "grpc-encoding"]) {
    header.delete(name);
  }
  const body = emptyMessage(header.get("content-type"));
  return {
    ...request,
    header,
    body: (async function* () {
      yield body;
    })(),
  };
}

/** An empty message as a request body of the given content type (JSON `{}` or no bytes; enveloped or not). */
export function emptyMessage(contentType: string | null): Uint8Array {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const message = type.endsWith("json") ? Buffer.from("{}") : Buffer.alloc(0);
  if (!type.startsWith("application/grpc") && !type.startsWith("application/connect+")) return message;
  const envelope = Buffer.alloc(5 + message.length);
  envelope.writeUInt32BE(message.length, 1);
  message.copy(envelope, 5);
  return type.startsWith("application/grpc-web-text") ? Buffer.from(envelope.toString("base64")) : envelope;
}

/** A refused caller that is still sending gets its stream reset, or its connection closed. */
function dropUnreadBody(request: Request): void {
  if (request.readableEnded) return;
  if (request instanceof http2.Http2ServerRequest) request.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  else request.socket.destroy();
}
