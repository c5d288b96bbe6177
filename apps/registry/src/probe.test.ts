import http2 from "node:http2";
import { startEtcd } from "@im-core/testkit";
import { it } from "vitest";
import { startTestRegistry } from "./testing/registry.js";

it("probe", async () => {
  const etcd = await startEtcd();
  const r = await startTestRegistry({ endpoints: etcd.endpoints });
  const res = await fetch(`${r.url}/im.registry.v1.RegistryService/Register`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"userId":"\ud800","deviceId":"d","gatewayNode":"gw"}' });
  console.log("literal", res.status, await res.text());
  console.log("lookup fffd", JSON.stringify((await r.client.lookup({ userId: "\ufffd" })).devices.map((d) => d.userId)));
  try { console.log("grpc client", JSON.stringify(await r.client.register({ userId: "\ud800x", deviceId: "d", gatewayNode: "gw" }))); } catch (e) { console.log("grpc client err", String(e)); }
  console.log("lookup fffdx", JSON.stringify((await r.client.lookup({ userId: "\ufffdx" })).devices.map((d) => d.userId)));
  // raw gRPC: LookupRequest{user_id = ED A0 80}
  const msg = Buffer.from([0x0a, 3, 0xed, 0xa0, 0x80]);
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]);
  const s = http2.connect(r.url);
  const req = s.request({ ":method": "POST", ":path": "/im.registry.v1.RegistryService/Lookup", "content-type": "application/grpc", te: "trailers" });
  req.end(frame);
  const out: any = await new Promise((resolve) => { let data = Buffer.alloc(0); let headers: any; req.on("response", (h) => (headers = h)); req.on("data", (d) => (data = Buffer.concat([data, d]))); req.on("trailers", (t) => resolve({ headers, t, data: data.toString("hex") })); req.on("end", () => resolve({ headers, data: data.toString("hex") })); });
  console.log("raw grpc", JSON.stringify(out));
  s.close();
  await r.close(); await etcd.dispose();
});
