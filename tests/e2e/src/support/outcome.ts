import type { TestContext } from "vitest";

/**
 * The handlers land one by one while the deployment is already tested. A call answers either for real
 * or with exactly UNIMPLEMENTED; anything else (a crash, a wrong code, a transport error) fails. The
 * UNIMPLEMENTED path is annotated on the test so a green run never hides that it checked less;
 * E2E_REQUIRE_IMPLEMENTED=true turns it into a failure once every RPC is in.
 */
export function acceptUnimplemented(ctx: TestContext, rpc: string, detail: string): void {
  if (process.env.E2E_REQUIRE_IMPLEMENTED === "true") {
    throw new Error(`${rpc} answered UNIMPLEMENTED (${detail}) and E2E_REQUIRE_IMPLEMENTED=true`);
  }
  ctx.annotate(`${rpc} is not implemented yet: asserted UNIMPLEMENTED only`, "notice");
}

export type ConnectAnswer<T> = { ok: true; message: T } | { ok: false; code: string; message: string };

/** One unary call in the Connect protocol with JSON over HTTP/1.1, as a browser or curl makes it. */
export async function connectJson<T>(
  baseUrl: string,
  procedure: string,
  request: unknown,
): Promise<ConnectAnswer<T>> {
  const response = await fetch(`${baseUrl}/${procedure}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.ok) return { ok: true, message: body as T };
  return { ok: false, code: String(body.code), message: String(body.message ?? "") };
}
