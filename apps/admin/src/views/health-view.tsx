import type { Transport } from "@connectrpc/connect";
import { createQueryOptions } from "@connectrpc/connect-query";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { useQueries } from "@tanstack/react-query";
import type { ServiceName } from "../rpc/errors";
import { useTransports } from "../rpc/transports";
import { ErrorNotice } from "../ui/error-notice";
import { formatUtc } from "../ui/format";

/**
 * The backends each service's readiness probe checks, by the names its gRPC health service answers for
 * (apps/registry/src/backends.ts, apps/sequence/src/backends.ts).
 */
const SERVICES: { name: ServiceName; backends: string[] }[] = [
  { name: "registry", backends: ["etcd"] },
  { name: "sequence", backends: ["redis", "mysql"] },
];
const REFRESH_MS = 5_000;
const { SERVING } = HealthCheckResponse_ServingStatus;

/**
 * Each service's readiness from the standard grpc.health.v1 service over Connect (open to any caller,
 * no token), asked for the whole server ("") and for each backend: a ready service with a backend down
 * is degraded, still serving what does not need that backend.
 */
export function HealthView() {
  const transports = useTransports();
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">Health</h2>
      <p className="muted">Asked every {REFRESH_MS / 1000} s.</p>
      <div className="cards">
        {SERVICES.map((service) => (
          <ServiceHealth key={service.name} {...service} transport={transports[service.name]} />
        ))}
      </div>
    </section>
  );
}

function ServiceHealth({
  name,
  backends,
  transport,
}: {
  name: ServiceName;
  backends: string[];
  transport: Transport;
}) {
  const [whole, ...perBackend] = useQueries({
    queries: ["", ...backends].map((service) => ({
      ...createQueryOptions(Health.method.check, { service }, { transport }),
      refetchInterval: REFRESH_MS,
    })),
  });
  const down = backends.filter((_, i) => perBackend[i]?.data && perBackend[i].data.status !== SERVING);
  const verdict =
    whole?.data === undefined
      ? { tone: "unknown", text: "Checking…" }
      : whole.data.status !== SERVING
        ? { tone: "down", text: "Not ready: draining, or its own connection to a backend is broken" }
        : down.length > 0
          ? { tone: "degraded", text: `Ready, degraded: ${down.join(", ")} not answering` }
          : { tone: "ok", text: "Ready: every backend answers" };

  return (
    <article className="card" aria-labelledby={`health-${name}`} data-testid={`health-${name}`}>
      <h3 id={`health-${name}`}>{name}</h3>
      {whole?.error ? (
        <ErrorNotice error={whole.error} service={name} />
      ) : (
        <p className={`verdict verdict-${verdict.tone}`} data-testid={`verdict-${name}`}>
          {verdict.text}
        </p>
      )}
      <ul className="backends" aria-label={`${name} backends`}>
        {backends.map((backend, i) => {
          const status = perBackend[i]?.data?.status;
          const text = status === undefined ? "unknown" : status === SERVING ? "answering" : "not answering";
          return (
            <li key={backend} data-testid={`backend-${backend}`} data-state={text}>
              <span className="backend-name">{backend}</span>: {text}
            </li>
          );
        })}
      </ul>
      {whole && whole.dataUpdatedAt > 0 && (
        <p className="muted">Last answer {formatUtc(new Date(whole.dataUpdatedAt))}</p>
      )}
    </article>
  );
}
