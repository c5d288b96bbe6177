import { WatchEvent_Reason, WatchEvent_Type, type WatchResponse } from "@im-core/proto";
import { TokenTable } from "@im-core/service-kit";
import { describe, expect, it } from "vitest";
import { codeOf, registriesOnOneEtcd } from "./testing/registry.js";

const backend = registriesOnOneEtcd();
const tokens = {
  a: "gateway-a-token-0123456789",
  b: "gateway-b-token-0123456789",
  router: "router-token-0123456789abc",
};
const table = new TokenTable([
  { token: tokens.a, role: "gateway", gatewayNodes: ["gw-a:9000"] },
  { token: tokens.b, role: "gateway", gatewayNodes: ["gw-b:9000"] },
  { token: tokens.router, role: "router" },
]);
const as = (token: string, signal?: AbortSignal) => ({
  headers: { authorization: `Bearer ${token}` },
  ...(signal ? { signal } : {}),
});

/** "TYPE user/device@node REASON [from node]" per event. */
const describeEvents = (responses: WatchResponse[]) =>
  responses.flatMap((r) =>
    r.events.map((e) => {
      const where = `${e.location?.userId}/${e.location?.deviceId}@${e.location?.gatewayNode}`;
      const from = e.previous ? ` from ${e.previous.gatewayNode}` : "";
      return `${WatchEvent_Type[e.type]} ${where} ${WatchEvent_Reason[e.reason]}${from}`;
    }),
  );

/** The first response (the start point), then until `count` events arrived, or 5 s passed. */
async function eventsOf(stream: AsyncIterable<WatchResponse>, count: number, abort: AbortController) {
  const responses: WatchResponse[] = [];
  const timer = setTimeout(() => abort.abort(), 5_000);
  try {
    for await (const response of stream) {
      responses.push(response);
      if (responses.reduce((n, r) => n + r.events.length, 0) >= count) break;
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return responses;
}

describe.concurrent("a gateway follows its own devices with a filtered Watch", () => {
  it("BatchRegister and the Watch filter act only for the token's own nodes and leases", async () => {
    const { client } = await backend.registry({ tokens: table });
    const { leaseId: leaseOfB } = await client.grantLease({ gatewayNode: "gw-b:9000" }, as(tokens.b));
    const devices = [{ userId: "u", deviceId: "d" }];
    const denied = [
      client.batchRegister({ gatewayNode: "gw-b:9000", leaseId: leaseOfB, devices }, as(tokens.a)),
      client.batchRegister({ gatewayNode: "gw-a:9000", leaseId: leaseOfB, devices }, as(tokens.a)),
    ];
    for (const call of denied) expect(await codeOf(call)).toBe("PermissionDenied");
    const first = async (request: { gatewayNodes?: string[] }, token: string) => {
      const abort = new AbortController();
      const stream = client.watch(request, as(token, abort.signal));
      try {
        for await (const response of stream) return response;
      } finally {
        abort.abort();
      }
    };
    expect(await codeOf(first({}, tokens.a))).toBe("PermissionDenied");
    expect(await codeOf(first({ gatewayNodes: ["gw-b:9000"] }, tokens.a))).toBe("PermissionDenied");
    expect(await codeOf(first({ gatewayNodes: ["gw-a:9000", "gw-b:9000"] }, tokens.a))).toBe(
      "PermissionDenied",
    );
    expect(await codeOf(first({ gatewayNodes: ["gw-a:9000"] }, tokens.a))).toBe("OK");
    expect(await codeOf(first({ gatewayNodes: ["gw-b:9000"] }, tokens.router))).toBe("OK");
    expect(await codeOf(first({}, tokens.router))).toBe("OK");
    const { results } = await client.batchRegister(
      { gatewayNode: "gw-b:9000", leaseId: leaseOfB, devices },
      as(tokens.b),
    );
    expect(results[0]!.code).toBe(0);
  });

  it("tells the old gateway why each device left: taken over, evicted, unregistered, lease ended", async () => {
    const { client } = await backend.registry({ tokens: table, maxDevices: 2, devicePolicy: "evict_oldest" });
    const { leaseId: leaseA } = await client.grantLease({ gatewayNode: "gw-a:9000" }, as(tokens.a));
    const { leaseId: leaseB } = await client.grantLease({ gatewayNode: "gw-b:9000" }, as(tokens.b));
    const abort = new AbortController();
    const stream = client.watch({ gatewayNodes: ["gw-a:9000"] }, as(tokens.a, abort.signal));
    const iterator = stream[Symbol.asyncIterator]();
    const start = await iterator.next(); // established: changes after it are delivered
    expect(start.done).toBe(false);
    const rest = eventsOf({ [Symbol.asyncIterator]: () => iterator }, 8, abort);

    const devices = ["moved", "old", "gone", "kept"].map((d) => ({
      userId: d === "old" ? "v" : d,
      deviceId: d,
    }));
    await client.batchRegister({ gatewayNode: "gw-a:9000", leaseId: leaseA, devices }, as(tokens.a));
    // Another gateway takes one over; the device limit evicts another to make room for two newer ones.
    await client.register(
      { userId: "moved", deviceId: "moved", gatewayNode: "gw-b:9000", leaseId: leaseB },
      as(tokens.b),
    );
    await client.batchRegister(
      {
        gatewayNode: "gw-b:9000",
        leaseId: leaseB,
        devices: [
          { userId: "v", deviceId: "x" },
          { userId: "v", deviceId: "y" },
        ],
      },
      as(tokens.b),
    );
    await client.unregister({ userId: "gone", deviceId: "gone", gatewayNode: "gw-a:9000" }, as(tokens.a));
    await client.revokeLease({ leaseId: leaseA }, as(tokens.a));
    // Nothing of gateway b's own reaches a's stream.
    expect(describeEvents(await rest)).toEqual([
      "PUT moved/moved@gw-a:9000 UNSPECIFIED",
      "PUT v/old@gw-a:9000 UNSPECIFIED",
      "PUT gone/gone@gw-a:9000 UNSPECIFIED",
      "PUT kept/kept@gw-a:9000 UNSPECIFIED",
      "PUT moved/moved@gw-b:9000 TAKEN_OVER from gw-a:9000",
      "DELETE v/old@gw-a:9000 EVICTED",
      "DELETE gone/gone@gw-a:9000 UNREGISTERED",
      "DELETE kept/kept@gw-a:9000 LEASE_ENDED",
    ]);
  });
});
