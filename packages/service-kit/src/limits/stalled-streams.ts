import type http from "node:http";
import http2 from "node:http2";

type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Resets streaming responses whose client stopped reading. Connect waits for 'drain' before each
 * write, so such a stream blocks its handler forever: it holds a stream slot and backend resources
 * and keeps shutdown waiting. A response that has waited for 'drain' longer than `stallMs` is reset
 * (HTTP/2: RST_STREAM CANCEL; HTTP/1.1: the connection is closed). Idle streams that have nothing to
 * send are never touched.
 */
export class StalledStreamReaper {
  readonly #waitingSince = new Map<Response, number>();
  readonly #sweep: NodeJS.Timeout;

  constructor(
    private readonly stallMs: number,
    private readonly onReset: () => void = () => {},
  ) {
    this.#sweep = setInterval(() => this.#reap(), Math.max(50, stallMs / 4));
    this.#sweep.unref();
  }

  track(response: Response): void {
    this.#waitingSince.set(response, performance.now());
    const writable = response instanceof http2.Http2ServerResponse ? response.stream : response;
    writable.on("drain", () => this.#waitingSince.set(response, performance.now()));
    response.once("close", () => this.#waitingSince.delete(response));
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  #reap(): void {
    const now = performance.now();
    for (const [response, since] of this.#waitingSince) {
      // The HTTP/2 compatibility response does not expose the buffer state; its stream does.
      const writable = response instanceof http2.Http2ServerResponse ? response.stream : response;
      if (!writable.writableNeedDrain) {
        this.#waitingSince.set(response, now);
      } else if (now - since > this.stallMs) {
        this.#waitingSince.delete(response);
        this.onReset();
        if (response instanceof http2.Http2ServerResponse) {
          response.stream.close(http2.constants.NGHTTP2_CANCEL);
        } else {
          response.destroy();
        }
        // Neither reset fails the write Connect is blocked in (it waits for 'drain' or 'error' on the
        // response): fail it, so the handler unwinds and releases its stream slot and subscription.
        if (response.listenerCount("error") > 0) {
          response.emit("error", new Error(`the client read nothing for ${this.stallMs} ms`));
        }
      }
    }
  }
}
