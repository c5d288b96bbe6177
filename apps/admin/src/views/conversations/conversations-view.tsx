import { skipToken, useQuery } from "@connectrpc/connect-query";
import { SequenceService } from "@im-core/proto";
import { useState } from "react";
import { useTransports } from "../../rpc/transports";
import { ErrorNotice } from "../../ui/error-notice";
import {
  ConversationForm,
  type ConversationInput,
  describeConversation,
  toConversation,
} from "./conversation-form";
import { SnapshotsTable } from "./snapshots-table";

/** What number a conversation is at (Current), and the durable ceilings behind them (ListSnapshots). */
export function ConversationsView() {
  const { sequence } = useTransports();
  const [asked, setAsked] = useState<ConversationInput | undefined>();
  const current = useQuery(
    SequenceService.method.current,
    asked ? { conversation: toConversation(asked) } : skipToken,
    { transport: sequence },
  );

  return (
    <section aria-labelledby="conversations-title">
      <h2 id="conversations-title">Conversations</h2>
      <h3>Current number</h3>
      <ConversationForm onSubmit={setAsked} />
      {current.isFetching && <p aria-live="polite">Asking…</p>}
      {current.error && <ErrorNotice error={current.error} service="sequence" />}
      {asked && current.data && (
        <p className="answer" aria-live="polite" aria-busy={current.isFetching} data-testid="current-answer">
          {describeConversation(asked)} is at <strong>{current.data.sequence.toString()}</strong>
          {current.data.sequence === 0n && " (no number handed out yet)"}
          {" · "}
          <button type="button" className="link-button" onClick={() => void current.refetch()}>
            Refresh
          </button>
        </p>
      )}
      <SnapshotsTable />
    </section>
  );
}
