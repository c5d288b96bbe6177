import { create, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  DeviceLocationSchema,
  NextRequestSchema,
  RegistryService,
  SequenceService,
  WatchEvent_Type,
  WatchEventSchema,
} from "./index.js";

// The RPCs docs/api.md documents, each with `<Rpc>Request` / `<Rpc>Response` (streaming for Watch).
const contract = {
  [RegistryService.typeName]: {
    service: RegistryService,
    rpcs: [
      "GrantLease",
      "Register",
      "BatchRegister",
      "Renew",
      "Unregister",
      "RevokeLease",
      "Lookup",
      "BatchLookup",
      "Watch",
    ],
  },
  [SequenceService.typeName]: {
    service: SequenceService,
    rpcs: ["Next", "Current", "BatchNext", "ListSnapshots"],
  },
};

describe("the generated contract", () => {
  for (const [typeName, { service, rpcs }] of Object.entries(contract)) {
    it(`${typeName} declares exactly the documented RPCs`, () => {
      expect(service.methods.map((method) => method.name)).toEqual(rpcs);
      for (const method of service.methods) {
        expect(method.input.name).toBe(`${method.name}Request`);
        expect(method.output.name).toBe(`${method.name}Response`);
        expect(method.methodKind).toBe(method.name === "Watch" ? "server_streaming" : "unary");
      }
    });
  }

  it("keeps 64-bit ids exact and uses the documented JSON names", () => {
    const location = create(DeviceLocationSchema, {
      userId: "ü/🙂",
      deviceId: "phone",
      gatewayNode: "10.0.0.7:9000",
      leaseId: 7587883123456789012n,
    });
    const event = create(WatchEventSchema, { type: WatchEvent_Type.DELETE, location, revision: 42n });
    expect(fromBinary(WatchEventSchema, toBinary(WatchEventSchema, event))).toEqual(event);
    const json = toJsonString(WatchEventSchema, event);
    expect(JSON.parse(json)).toEqual({
      type: "TYPE_DELETE",
      location: {
        userId: "ü/🙂",
        deviceId: "phone",
        gatewayNode: "10.0.0.7:9000",
        leaseId: "7587883123456789012",
      },
      revision: "42",
    });
    // Servers accept the proto field names too (curl users may type snake_case).
    const next = fromJsonString(
      NextRequestSchema,
      '{"conversation":{"private_chat":{"user_a":"a","user_b":"b"}},"count":3}',
    );
    expect(next.conversation?.kind).toMatchObject({ case: "privateChat", value: { userA: "a", userB: "b" } });
  });
});
