import { formatUtc } from "../../ui/format";
import { type FeedEvent, REASON_TEXT } from "./feed-session";

/** Newest first; events recovered from history after a gap are marked so. */
export function FeedEventsTable({ events }: { events: readonly FeedEvent[] }) {
  if (events.length === 0) {
    return <p className="muted">No events yet: they appear here as devices register and leave.</p>;
  }
  return (
    <table className="feed">
      <caption className="visually-hidden">Registry events, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Revision</th>
          <th scope="col">Event</th>
          <th scope="col">User / device</th>
          <th scope="col">Gateway</th>
          <th scope="col">Lease</th>
          <th scope="col">Why</th>
          <th scope="col">Received</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={event.key} className={`event-${event.type}`} data-testid="feed-event">
            <td className="mono">{event.revision.toString()}</td>
            <td>
              <span className={`badge badge-${event.type}`}>{event.type.toUpperCase()}</span>
            </td>
            <td>
              {event.location?.userId}/{event.location?.deviceId}
            </td>
            <td className="mono">
              {event.location?.gatewayNode}
              {event.previous && <span className="muted"> (was {event.previous.gatewayNode})</span>}
            </td>
            <td className="mono">{event.location?.leaseId.toString()}</td>
            <td>{REASON_TEXT[event.reason]}</td>
            <td>
              {formatUtc(new Date(event.receivedAt))}
              {event.recovered && <span className="badge badge-recovered"> recovered</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
