import { ErrorNotice } from "../../ui/error-notice";
import { parseIdList } from "../../ui/format";
import { IdListForm } from "../../ui/id-list-form";
import { navigate, routeHref } from "../../ui/route";
import { FeedEventsTable } from "./feed-events-table";
import type { FeedState, FeedStatus } from "./feed-session";
import { GapList } from "./gap-list";
import { useFeed, useSecondTicks } from "./use-feed";

const STATUS_TEXT: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  paused: "Paused",
  reconnecting: "Disconnected: reconnecting…",
  stopped: "Stopped",
};

/**
 * Registry Watch as it happens: devices coming and going, with rates, pause and gap-free resume. A new
 * `restart` parameter in the address starts a new feed from now (after one stopped for good).
 */
export function LiveFeedView({ params }: { params: URLSearchParams }) {
  return <Feed key={params.get("restart") ?? ""} params={params} />;
}

function Feed({ params }: { params: URLSearchParams }) {
  const userIds = parseIdList(params.get("users") ?? "");
  const { state, session } = useFeed(userIds);
  const now = useSecondTicks();

  return (
    <section aria-labelledby="feed-title">
      <h2 id="feed-title">Live registry feed</h2>
      <IdListForm
        label="Only these users"
        submitLabel="Watch"
        initial={userIds}
        hint="Empty watches every user. Changing the filter starts a new feed from now."
        onSubmit={(ids) => navigate("feed", ids.length ? { users: ids.join(",") } : {})}
      />
      <div className="feed-controls">
        <p className={`status status-${state.status}`} role="status" data-testid="feed-status">
          {STATUS_TEXT[state.status]}
          {` · ${session.userIds.length === 0 ? "every user" : session.userIds.join(", ")}`}
          {state.lastRevision !== undefined && ` · up to revision ${state.lastRevision}`}
          {state.nextAttemptAt !== undefined &&
            ` · next attempt in ${Math.max(0, Math.ceil((state.nextAttemptAt - now) / 1000))} s`}
        </p>
        {state.status === "paused" ? (
          <button type="button" onClick={() => session.resume()}>
            Resume
          </button>
        ) : (
          <button type="button" onClick={() => session.pause()} disabled={state.status === "stopped"}>
            Pause
          </button>
        )}
      </div>
      {state.error !== undefined && state.status !== "live" && (
        <ErrorNotice error={state.error} service="registry" />
      )}
      {state.status === "stopped" && (
        <p className="feed-controls">
          <button
            type="button"
            onClick={() => navigate("feed", { ...Object.fromEntries(params), restart: String(now) })}
          >
            Start a new feed from now
          </button>
          {userIds.length > 0 && (
            <a href={routeHref("lookup", { users: userIds.join(",") })}>Look these users up</a>
          )}
        </p>
      )}
      <Counters state={state} now={now} />
      <GapList gaps={state.gaps} />
      <FeedEventsTable events={state.events} />
    </section>
  );
}

function Counters({ state, now }: { state: FeedState; now: number }) {
  const last = state.rates.lastSecond(now);
  const peak = state.rates.peak(now);
  const counters = [
    { label: "PUT / s", value: last.puts, note: `peak ${peak.puts}`, id: "puts-rate" },
    { label: "DELETE / s", value: last.deletes, note: `peak ${peak.deletes}`, id: "deletes-rate" },
    { label: "PUTs", value: state.rates.totalPuts, note: "since the feed began", id: "puts-total" },
    { label: "DELETEs", value: state.rates.totalDeletes, note: "since the feed began", id: "deletes-total" },
  ];
  return (
    <dl className="counters" aria-label="Event counters">
      {counters.map((counter) => (
        <div key={counter.id}>
          <dt>{counter.label}</dt>
          <dd data-testid={counter.id}>{counter.value}</dd>
          <dd className="muted">{counter.note}</dd>
        </div>
      ))}
    </dl>
  );
}
