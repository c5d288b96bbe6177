import { createClient } from "@connectrpc/connect";
import { RegistryService } from "@im-core/proto";
import { useEffect, useState, useSyncExternalStore } from "react";
import { useTransports } from "../../rpc/transports";
import { FeedSession, type FeedState } from "./feed-session";

/**
 * A live Watch for these users (all users when empty), for as long as the view shows it. Streams are not
 * queries: connect-query covers unary calls, so the stream uses the generated client on the same
 * transport.
 */
export function useFeed(userIds: readonly string[]): { state: FeedState; session: FeedSession } {
  const { registry } = useTransports();
  const filter = userIds.join("\n");
  const [session, setSession] = useState(
    () => new FeedSession(createClient(RegistryService, registry), userIds),
  );

  useEffect(() => {
    const fresh = new FeedSession(createClient(RegistryService, registry), filter ? filter.split("\n") : []);
    setSession(fresh);
    fresh.start();
    return () => fresh.halt();
  }, [registry, filter]);

  const state = useSyncExternalStore(session.subscribe, session.snapshot);
  return { state, session };
}

/** Re-renders every second, for rates and "for 4 s" texts that change with time alone. */
export function useSecondTicks(): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
