import { runService } from "@im-core/service-kit";
import { loadRegistryConfig } from "./config.js";
import { createRegistryServer } from "./server.js";

await runService("registry", async (logger) => {
  const config = loadRegistryConfig(process.env);
  const etcdHealthy = {
    name: "etcd",
    async check(signal: AbortSignal) {
      // Placeholder until the etcd store lands: etcd's own health endpoint on any member.
      const answers = await Promise.allSettled(
        config.etcdEndpoints.map(async (endpoint) => {
          const response = await fetch(new URL("/health", endpoint), { signal });
          if (!response.ok) throw new Error(`${endpoint} answered ${response.status}`);
        }),
      );
      if (!answers.some((answer) => answer.status === "fulfilled")) throw new Error("no etcd member answers");
    },
  };
  const server = createRegistryServer({ logger, readiness: [etcdHealthy] });
  const address = await server.listen(config.port, config.host);
  return {
    url: `http://${address.address}:${address.port}`,
    close: () => server.close(),
  };
});
