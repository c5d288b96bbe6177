import { Code } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { useRegistryService } from "../testing/services.js";
import type { DropEvent } from "./events.js";
import { GatewaySession } from "./gateway-session.js";

const tokens = { a: "gateway-a-token-0123456789", b: "gateway-b-token-0123456789" };
const stack = useRegistryService({
  AUTH_DISABLED: "false",
  AUTH_TOKENS: `${tokens.a}:gateway@gw-a:9000,${tokens.b}:gateway@gw-b:9000`,
});

/** gRPC with the gateway's bearer token, as a gateway in production calls the registry. */
const withToken = (token: string) =>
  createGrpcTransport({
    baseUrl: stack().service.url,
    interceptors: [
      (next) => (request) => {
        request.header.set("authorization", `Bearer ${token}`);
        return next(request);
      },
    ],
  });

describe("GatewaySession with gateway tokens bound to their nodes", () => {
  it("follows its own node's Watch with its token and drops a device another gateway took over", async () => {
    const open = (token: string, gatewayNode: string) =>
      GatewaySession.open({ registry: withToken(token), gatewayNode, ttlSeconds: 30 });
    const a = await open(tokens.a, "gw-a:9000");
    const b = await open(tokens.b, "gw-b:9000");
    const errors: Error[] = [];
    a.on("error", (error) => errors.push(error));
    try {
      const dropped = new Promise<DropEvent>((resolve) => a.on("drop", resolve));
      await a.registerAll([{ userId: "token-user", deviceId: "phone" }]);
      await b.register("token-user", "phone");
      expect(await dropped).toMatchObject({ reason: "taken_over", location: { gatewayNode: "gw-b:9000" } });
      expect(errors).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("refuses to open for a node its token does not name", async () => {
    await expect(
      GatewaySession.open({ registry: withToken(tokens.a), gatewayNode: "gw-b:9000" }),
    ).rejects.toMatchObject({ code: Code.PermissionDenied });
  });
});
