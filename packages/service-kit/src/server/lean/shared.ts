import type { ServerHttp2Stream } from "node:http2";
import type { DescMessage } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type {
  createMethodSerializationLookup,
  MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import type { DefaultCallDeadline } from "../../limits/deadline-interceptor.js";
import type { Deadlines } from "../../limits/deadlines.js";
import type { ServiceMetrics } from "../../observability/metrics.js";
import type { RequestLog } from "../../observability/request-log.js";
import type { RpcHandler, UnaryImplementation } from "../rpc-handler.js";

/** What every lean call of a server shares: the cross-cutting steps the interceptors also take. */
export interface LeanShared {
  readonly rpc: RpcHandler;
  readonly metrics: ServiceMetrics;
  readonly requestLog: RequestLog;
  /** Store errors and aborts to codes (errors.ts). */
  readonly mapError: (error: unknown) => ConnectError;
  readonly defaultDeadline: DefaultCallDeadline;
  readonly readMaxBytes: number;
  /** Connect's JSON options of the router (request-decoding.ts): read and write alike. */
  readonly jsonOptions: Parameters<typeof createMethodSerializationLookup>[2];
  readonly onServed: () => void;
  /** An answer that could not be written: logged by the server (as the adapter's onHandlerError). */
  readonly onWriteError: (method: string, reason: unknown) => void;
  /**
   * Streams whose answer is written but not yet taken (STREAM_STALL_TIMEOUT_MS): a client that never
   * reads would otherwise hold each answer, and its stream slot, for as long as its connection lives.
   */
  readonly unreadAnswers: Deadlines<ServerHttp2Stream>;
}

export interface LeanMethod extends UnaryImplementation {
  readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>;
}
