import type { ServiceName } from "../rpc/errors";
import { describeError } from "../rpc/errors";
import { useTransports } from "../rpc/transports";

/** An RPC failure as people read it, announced to screen readers (role="alert"). */
export function ErrorNotice({ error, service }: { error: unknown; service: ServiceName }) {
  const { settings } = useTransports();
  const url = service === "registry" ? settings.registryUrl : settings.sequenceUrl;
  const readable = describeError(error, service, url);
  return (
    <div className="notice notice-error" role="alert" data-kind={readable.kind}>
      <strong>{readable.title}</strong>
      <p>{readable.detail}</p>
      {readable.kind === "unauthenticated" && <a href="#/sign-in">Sign in again</a>}
    </div>
  );
}
