import { startEtcdCluster } from "@im-core/testkit";
import { it } from "vitest";
import { DeviceMirror as NewMirror } from "../mirror/mirror.js";
import { EtcdRegistryStore as NewStore } from "../store.js";
import { DeviceMirror as OldMirror } from "./mirror/mirror.js";
import { EtcdRegistryStore as OldStore } from "./store.js";

type AnyStore = NewStore | OldStore;
async function run(label: string, store: any, mirror: any, fresh: boolean, ms = 2500) {
  await mirror.start(AbortSignal.timeout(5000));
  const { leaseId } = await store.grantLease(120);
  let n = 0, stop = false, fromMirror = 0;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const userId = `${label}-w${w}-u${i}`;
      const hint = fresh ? mirror.lookup([userId], 0) : undefined;
      const r = await store.register({ userId, deviceId: "d", gatewayNode: "gw", leaseId, ...(hint ? { hint } : {}) });
      mirror.noteWrite(r.revision);
      const floor = fresh ? await mirror.catchUp(50) : undefined;
      const m = mirror.lookup([userId], floor);
      if (m) fromMirror++; else await store.lookup([userId]);
      n++;
    }
  };
  const t0 = performance.now();
  const ws = Array.from({ length: 8 }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  await Promise.all(ws);
  const dt = (performance.now() - t0) / 1000;
  console.log(`${label}: ${(n / dt).toFixed(0)} register+lookup/s (${n} in ${dt.toFixed(1)} s, ${fromMirror} lookups from the mirror)`);
  mirror.close(); store.close();
}
it("A/B on a 3-node cluster", async () => {
  const c = await startEtcdCluster({ size: 3 });
  const opts = (root: string) => ({ endpoints: c.endpoints, defaultTtlSeconds: 60, maxDevices: 5, devicePolicy: "reject" as const, keyRoot: root });
  for (let round = 0; round < 2; round++) {
    const o = new OldStore(opts(`/old${round}/`)); await run(`before#${round}`, o, new OldMirror(o as any), false);
    const s = new NewStore(opts(`/new${round}/`)); await run(`after#${round}`, s, new NewMirror(s), true);
  }
  await c.dispose();
}, 120_000);
