import { Code, ConnectError } from "@connectrpc/connect";
import { TokenTable } from "@im-core/service-kit";
import { describe, expect, it } from "vitest";
import { codeOf, devicesOf, registriesOnOneEtcd } from "./testing/registry.js";

const backend = registriesOnOneEtcd();
const tokens = {
  a: "gateway-a-token-0123456789",
  b: "gateway-b-token-0123456789",
  any: "gateway-any-token-0123456789",
  router: "router-token-0123456789abc",
};
const table = new TokenTable([
  { token: tokens.a, role: "gateway", gatewayNodes: ["gw-a:9000", "gw-a:9001"] },
  { token: tokens.b, role: "gateway", gatewayNodes: ["gw-b:9000"] },
  { token: tokens.any, role: "gateway", gatewayNodes: "any" },
  { token: tokens.router, role: "router" },
]);
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe.concurrent("a gateway token acts only for its own gateway nodes", () => {
  it("grants, registers, renews, revokes and unregisters for its nodes and leases only; a refusal changes nothing", async () => {
    const { client } = await backend.registry({ tokens: table });
    const { leaseId: leaseOfB } = await client.grantLease({ gatewayNode: "gw-b:9000" }, as(tokens.b));
    await client.register(
      { userId: "u", deviceId: "phone", gatewayNode: "gw-b:9000", leaseId: leaseOfB },
      as(tokens.b),
    );
    const { leaseId: leaseOfA } = await client.grantLease({ gatewayNode: "gw-a:9001" }, as(tokens.a));

    const denied = [
      client.grantLease({ gatewayNode: "gw-b:9000" }, as(tokens.a)),
      // Another gateway's users may not be redirected to this one's address, nor to an attacker's.
      client.register({ userId: "u", deviceId: "phone", gatewayNode: "gw-b:9000" }, as(tokens.a)),
      client.register({ userId: "u", deviceId: "phone", gatewayNode: "evil:1" }, as(tokens.a)),
      // Its own node, on a lease granted to another gateway.
      client.register(
        { userId: "v", deviceId: "d", gatewayNode: "gw-a:9000", leaseId: leaseOfB },
        as(tokens.a),
      ),
      client.renew({ leaseId: leaseOfB }, as(tokens.a)),
      client.revokeLease({ leaseId: leaseOfB }, as(tokens.a)),
      client.unregister({ userId: "u", deviceId: "phone" }, as(tokens.a)),
      client.unregister({ userId: "u", deviceId: "phone", gatewayNode: "gw-b:9000" }, as(tokens.a)),
    ];
    for (const call of denied) expect(await codeOf(call)).toBe("PermissionDenied");
    expect(devicesOf(await client.lookup({ userId: "u" }, as(tokens.router)))).toEqual(["u/phone@gw-b:9000"]);
    expect(devicesOf(await client.lookup({ userId: "v" }, as(tokens.router)))).toEqual([]);
    expect((await client.renew({ leaseId: leaseOfB }, as(tokens.b))).ttlSeconds).toBeGreaterThan(0);

    // What it owns works, across its two nodes; a wildcard token acts for any node.
    await client.register(
      { userId: "w", deviceId: "d", gatewayNode: "gw-a:9000", leaseId: leaseOfA },
      as(tokens.a),
    );
    expect((await client.renew({ leaseId: leaseOfA }, as(tokens.a))).ttlSeconds).toBeGreaterThan(0);
    await client.register(
      { userId: "w", deviceId: "e", gatewayNode: "anywhere:1", leaseId: leaseOfB },
      as(tokens.any),
    );
    expect(
      (await client.unregister({ userId: "w", deviceId: "d", gatewayNode: "gw-a:9000" }, as(tokens.a)))
        .removed,
    ).toBe(true);
    await client.revokeLease({ leaseId: leaseOfA }, as(tokens.a));
  });

  it("limits lease grants per token with RESOURCE_EXHAUSTED and a retry hint; other tokens are unaffected", async () => {
    const { client } = await backend.registry({ tokens: table, leaseGrantRate: 1 });
    // A burst of ten seconds' worth, then one a second: keep asking until refused (bounded).
    const started = performance.now();
    let granted = 0;
    let refused: ConnectError | undefined;
    while (granted < 100 && !refused) {
      try {
        await client.grantLease({ gatewayNode: "gw-a:9000" }, as(tokens.a));
        granted++;
      } catch (error) {
        refused = ConnectError.from(error);
      }
    }
    const refillable = Math.ceil((performance.now() - started) / 1_000);
    expect(granted).toBeGreaterThanOrEqual(10);
    expect(granted).toBeLessThanOrEqual(10 + refillable);
    expect(refused?.code).toBe(Code.ResourceExhausted);
    expect(Number(refused?.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
    // A Register without a lease is a grant too.
    expect(
      await codeOf(client.register({ userId: "x", deviceId: "d", gatewayNode: "gw-a:9000" }, as(tokens.a))),
    ).toBe("ResourceExhausted");
    await client.grantLease({ gatewayNode: "gw-b:9000" }, as(tokens.b));
  });
});
