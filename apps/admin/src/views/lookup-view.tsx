import { skipToken, useQuery } from "@connectrpc/connect-query";
import { type DeviceLocation, RegistryService } from "@im-core/proto";
import { useTransports } from "../rpc/transports";
import { ErrorNotice } from "../ui/error-notice";
import { connectedFor, formatTimestamp, parseIdList } from "../ui/format";
import { IdListForm } from "../ui/id-list-form";
import { navigate, routeHref } from "../ui/route";

/** Where each device of one or many users is connected: BatchLookup, at the revision it reflects. */
export function LookupView({ params }: { params: URLSearchParams }) {
  const { registry } = useTransports();
  const userIds = parseIdList(params.get("users") ?? "");
  const lookup = useQuery(RegistryService.method.batchLookup, userIds.length > 0 ? { userIds } : skipToken, {
    transport: registry,
  });

  return (
    <section aria-labelledby="lookup-title">
      <h2 id="lookup-title">User lookup</h2>
      <IdListForm
        label="User ids"
        submitLabel="Look up"
        initial={userIds}
        hint="One or many (up to 1,000), separated by commas or spaces."
        onSubmit={(ids) => navigate("lookup", ids.length ? { users: ids.join(",") } : {})}
      />
      {lookup.isFetching && <p aria-live="polite">Looking up…</p>}
      {lookup.error && <ErrorNotice error={lookup.error} service="registry" />}
      {lookup.data && (
        <div aria-busy={lookup.isFetching}>
          <p className="answer-meta" aria-live="polite">
            As of registry revision{" "}
            <strong data-testid="lookup-revision">{lookup.data.revision.toString()}</strong>
            {" · "}
            {lookup.data.devices.length} device{lookup.data.devices.length === 1 ? "" : "s"} online
            {" · "}
            <a href={routeHref("feed", { users: userIds.join(",") })}>Watch these users live</a>
            {" · "}
            <button type="button" className="link-button" onClick={() => void lookup.refetch()}>
              Refresh
            </button>
          </p>
          <DevicesTable userIds={userIds} devices={lookup.data.devices} />
        </div>
      )}
    </section>
  );
}

function DevicesTable({ userIds, devices }: { userIds: string[]; devices: DeviceLocation[] }) {
  const byUser = new Map<string, DeviceLocation[]>();
  for (const device of devices) byUser.set(device.userId, [...(byUser.get(device.userId) ?? []), device]);
  return (
    <table>
      <caption className="visually-hidden">Devices of each user looked up</caption>
      <thead>
        <tr>
          <th scope="col">User</th>
          <th scope="col">Device</th>
          <th scope="col">Gateway</th>
          <th scope="col">Connected since</th>
          <th scope="col">Lease</th>
        </tr>
      </thead>
      <tbody>
        {userIds.flatMap((userId) => {
          const own = byUser.get(userId) ?? [];
          if (own.length === 0) {
            return [
              <tr key={userId} className="offline">
                <th scope="row">{userId}</th>
                <td colSpan={4}>offline: no device connected</td>
              </tr>,
            ];
          }
          return own.map((device) => (
            <tr key={`${userId}/${device.deviceId}`}>
              <th scope="row">{userId}</th>
              <td>{device.deviceId}</td>
              <td className="mono">{device.gatewayNode}</td>
              <td>
                {formatTimestamp(device.connectedAt)}{" "}
                <span className="muted">({connectedFor(device.connectedAt)})</span>
              </td>
              <td className="mono">{device.leaseId.toString()}</td>
            </tr>
          ));
        })}
      </tbody>
    </table>
  );
}
