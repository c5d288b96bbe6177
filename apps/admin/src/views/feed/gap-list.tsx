import { formatDuration } from "../../ui/format";
import type { RecoveredGap } from "./feed-session";

/** What each resume recovered from history: proof that nothing was missed while the feed was away. */
export function GapList({ gaps }: { gaps: readonly RecoveredGap[] }) {
  if (gaps.length === 0) return null;
  return (
    <ul className="gaps" aria-label="Recovered gaps">
      {gaps.map((gap) => (
        <li key={`${gap.fromRevision}-${gap.toRevision}`} className="notice notice-info">
          {gap.cause === "pause" ? "Resumed after a pause" : "Reconnected after a disconnect"} of{" "}
          {formatDuration(gap.awayMs)}:{" "}
          {gap.toRevision < gap.fromRevision
            ? "nothing changed meanwhile."
            : `recovered ${gap.events} event${gap.events === 1 ? "" : "s"} from revisions ${gap.fromRevision}–${gap.toRevision}.`}
        </li>
      ))}
    </ul>
  );
}
