import type { Transport } from "@connectrpc/connect";
import { createQueryOptions } from "@connectrpc/connect-query";
import { Health, HealthCheckResponse_ServingStatus } from "@im-core/proto/grpc/health/v1";
import { useQuery } from "@tanstack/react-query";
import type { ServiceName } from "../rpc/errors";
import { useTransports } from "../rpc/transports";
import { ErrorNotice } from "../ui/error-notice";
import { formatUtc } from "../ui/format";

const SERVICES: ServiceName[] = ["registry", "sequence"];
const REFRESH_MS = 5_000;
const { SERVING } = HealthCheckResponse_ServingStatus;

/**
 * Each service's readiness from the standard grpc.health.v1 service over Connect (open to any caller,
 * no token): one `List` answers the whole server ("") and each backend: a ready service with a backend
 * down is degraded, still serving what does not need that backend.
 */
export function HealthView() {
  const transports = useTransports();
  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">Health</h2>
      <p className="muted">Asked every {REFRESH_MS / 1000} s.</p>
      <div className="cards">
        {SERVICES.map((name) => (
          <ServiceHealth key={name} name={name} transport={transports[name]} />
        ))}
      </div>
    </section>
  );
}

/** The backends among the names List answers: not "" and not an RPC service (those have a package). */
const isBackend = (name: string) => name !== "" && !name.includes(".");

function ServiceHealth({ name, transport }: { name: ServiceName; transport: Transport }) {
  const listed = useQuery({
    ...createQueryOptions(Health.method.list, {}, { transport }),
    refetchInterval: REFRESH_MS,
  });
  // A failed refresh keeps the last answer in `data`: shown beside the error it would mislead.
  const statuses = (listed.error ? undefined : listed.data?.statuses) ?? {};
  const backends = Object.keys(statuses).filter(isBackend).sort();
  const whole = statuses[""];
  const down = backends.filter((backend) => statuses[backend]?.status !== SERVING);
  const verdict =
    whole === undefined
      ? { tone: "unknown", text: "Checking…" }
      : whole.status !== SERVING
        ? { tone: "down", text: "Not ready: draining, or its own connection to a backend is broken" }
        : down.length > 0
          ? { tone: "degraded", text: `Ready, degraded: ${down.join(", ")} not answering` }
          : { tone: "ok", text: "Ready: every backend answers" };

  return (
    <article className="card" aria-labelledby={`health-${name}`} data-testid={`health-${name}`}>
      <h3 id={`health-${name}`}>{name}</h3>
      {listed.error ? (
        <ErrorNotice error={listed.error} service={name} />
      ) : (
        <p className={`verdict verdict-${verdict.tone}`} data-testid={`verdict-${name}`}>
          {verdict.text}
        </p>
      )}
      <ul className="backends" aria-label={`${name} backends`}>
        {backends.map((backend) => {
          const text = statuses[backend]?.status === SERVING ? "answering" : "not answering";
          return (
            <li key={backend} data-testid={`backend-${backend}`} data-state={text}>
              <span className="backend-name">{backend}</span>: {text}
            </li>
          );
        })}
      </ul>
      {listed.dataUpdatedAt > 0 && (
        <p className="muted">Last answer {formatUtc(new Date(listed.dataUpdatedAt))}</p>
      )}
    </article>
  );
}
