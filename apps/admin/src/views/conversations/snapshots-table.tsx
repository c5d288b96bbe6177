import { useQuery } from "@connectrpc/connect-query";
import { ConversationType, SequenceService, type Snapshot } from "@im-core/proto";
import { useId, useState } from "react";
import { useTransports } from "../../rpc/transports";
import { ErrorNotice } from "../../ui/error-notice";
import { formatTimestamp } from "../../ui/format";

const TYPES = [
  { value: ConversationType.UNSPECIFIED, label: "All" },
  { value: ConversationType.PRIVATE, label: "Private chats" },
  { value: ConversationType.GROUP, label: "Groups" },
];
const PAGE_SIZES = [10, 25, 100];

/**
 * The durable ceilings in MySQL, a page at a time. Page tokens are opaque and only go forward, so the
 * tokens of the pages already seen are kept to go back.
 */
export function SnapshotsTable() {
  const { sequence } = useTransports();
  const [type, setType] = useState(ConversationType.UNSPECIFIED);
  const [pageSize, setPageSize] = useState(PAGE_SIZES[0]!);
  const [tokens, setTokens] = useState<string[]>([""]);
  const ids = { type: useId(), size: useId() };
  const page = useQuery(
    SequenceService.method.listSnapshots,
    { type, pageSize, pageToken: tokens.at(-1)! },
    { transport: sequence, placeholderData: (previous) => previous },
  );
  const restart = () => setTokens([""]);
  const nextToken = page.data?.nextPageToken ?? "";

  return (
    <>
      <h3>Snapshots (reserved ceilings)</h3>
      <div className="inline-form">
        <label htmlFor={ids.type}>Type</label>
        <select
          id={ids.type}
          value={type}
          onChange={(event) => {
            setType(Number(event.target.value) as ConversationType);
            restart();
          }}
        >
          {TYPES.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
        <label htmlFor={ids.size}>Per page</label>
        <select
          id={ids.size}
          value={pageSize}
          onChange={(event) => {
            setPageSize(Number(event.target.value));
            restart();
          }}
        >
          {PAGE_SIZES.map((size) => (
            <option key={size}>{size}</option>
          ))}
        </select>
      </div>
      {page.error && <ErrorNotice error={page.error} service="sequence" />}
      {/* The previous page stays on screen, dimmed, until the next one arrives: no jump to an empty table. */}
      <div aria-busy={page.isFetching}>{page.data && <SnapshotRows snapshots={page.data.snapshots} />}</div>
      <nav className="pager" aria-label="Snapshot pages">
        <button type="button" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          Previous page
        </button>
        <span aria-live="polite" data-testid="snapshots-page">
          Page {tokens.length}
          {page.isFetching && " (loading…)"}
        </span>
        <button
          type="button"
          disabled={nextToken === "" || page.isFetching}
          onClick={() => setTokens([...tokens, nextToken])}
        >
          Next page
        </button>
      </nav>
    </>
  );
}

function SnapshotRows({ snapshots }: { snapshots: Snapshot[] }) {
  if (snapshots.length === 0) return <p className="muted">No snapshots of this type.</p>;
  return (
    <table>
      <caption className="visually-hidden">Snapshots on this page</caption>
      <thead>
        <tr>
          <th scope="col">Conversation</th>
          <th scope="col">Type</th>
          <th scope="col">Reserved ceiling</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {snapshots.map((snapshot) => {
          const name = conversationName(snapshot);
          return (
            <tr key={name} data-testid="snapshot-row">
              <th scope="row">{name}</th>
              <td>{snapshot.type === ConversationType.GROUP ? "group" : "private"}</td>
              <td className="mono">{snapshot.reservedCeiling.toString()}</td>
              <td>{formatTimestamp(snapshot.updatedAt)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function conversationName(snapshot: Snapshot): string {
  const kind = snapshot.conversation?.kind;
  if (kind?.case === "groupId") return kind.value;
  if (kind?.case === "privateChat") return `${kind.value.userA} ↔ ${kind.value.userB}`;
  return "(unnamed)";
}
