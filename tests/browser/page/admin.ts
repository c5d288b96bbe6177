// The admin page under test: a browser on another origin calling both services with connect-web
// (Connect protocol, JSON over HTTP/1.1 with CORS), including the server-streaming Watch.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { RegistryService, SequenceService, WatchEvent_Type } from "@im-core/proto";

const params = new URLSearchParams(location.search);
const token = params.get("token") ?? "";
const interceptors = [
  (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) =>
    async (request: Parameters<typeof next>[0]) => {
      request.header.set("authorization", `Bearer ${token}`);
      return next(request);
    },
];
const registry = createClient(
  RegistryService,
  createConnectTransport({ baseUrl: params.get("registry") ?? "", interceptors }),
);
const sequence = createClient(
  SequenceService,
  createConnectTransport({ baseUrl: params.get("sequence") ?? "", interceptors }),
);

function show(id: string, text: string): void {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

function fail(id: string) {
  return (error: unknown) => show(id, `error: ${error instanceof Error ? error.message : String(error)}`);
}

const user = params.get("user") ?? "alice";

registry
  .lookup({ userId: user })
  .then(
    (response) => show("lookup", `devices: ${response.devices.length} at revision ${response.revision}`),
    fail("lookup"),
  );

sequence
  .next({ conversation: { kind: { case: "groupId", value: "browser-room" } }, count: 3 })
  .then((response) => show("next", `numbers ${response.first}..${response.last}`), fail("next"));

(async () => {
  const events = document.getElementById("events")!;
  for await (const response of registry.watch({ userIds: [user] })) {
    show("watch", `watching from revision ${response.revision}`);
    for (const event of response.events) {
      const item = document.createElement("li");
      const type = event.type === WatchEvent_Type.PUT ? "PUT" : "DELETE";
      item.textContent = `${type} ${event.location?.userId}/${event.location?.deviceId} @ ${event.location?.gatewayNode}`;
      events.append(item);
    }
  }
})().catch(fail("watch"));
