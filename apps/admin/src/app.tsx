import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { type ConnectionSettings, clearSession, loadSession, saveSession } from "./connection/settings";
import { SignIn } from "./connection/sign-in";
import { TransportsProvider } from "./rpc/transports";
import { ViewErrorBoundary } from "./ui/error-boundary";
import { navigate, routeHref, useRoute } from "./ui/route";
import { ConversationsView } from "./views/conversations/conversations-view";
import { LiveFeedView } from "./views/feed/live-feed-view";
import { HealthView } from "./views/health-view";
import { LookupView } from "./views/lookup-view";

const VIEWS = [
  { id: "lookup", label: "User lookup", Component: LookupView },
  { id: "feed", label: "Live feed", Component: LiveFeedView },
  { id: "conversations", label: "Conversations", Component: ConversationsView },
  { id: "health", label: "Health", Component: HealthView },
] as const;

export function App() {
  const [session, setSession] = useState<ConnectionSettings | undefined>(loadSession);
  const route = useRoute();
  const queryClient = useQueryClient();
  const current = VIEWS.find((view) => view.id === route.view);

  useEffect(() => {
    if (session && !current && route.view !== "sign-in") navigate("lookup");
  }, [session, current, route.view]);

  if (!session || route.view === "sign-in") {
    return (
      <SignIn
        onSignIn={(settings) => {
          saveSession(settings);
          // Answers cached under the old token or URLs must not show under the new ones.
          queryClient.clear();
          setSession(settings);
          navigate("lookup");
        }}
      />
    );
  }

  const signOut = () => {
    clearSession();
    queryClient.clear();
    setSession(undefined);
  };

  return (
    <TransportsProvider settings={session}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <h1>im-core admin</h1>
        <nav aria-label="Views">
          <ul>
            {VIEWS.map((view) => (
              <li key={view.id}>
                <a href={routeHref(view.id)} aria-current={view.id === current?.id ? "page" : undefined}>
                  {view.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="session">
          <span title={`registry ${session.registryUrl}, sequence ${session.sequenceUrl}`}>
            registry {new URL(session.registryUrl).host} · sequence {new URL(session.sequenceUrl).host}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {current && (
          <ViewErrorBoundary key={current.id}>
            <current.Component params={route.params} />
          </ViewErrorBoundary>
        )}
      </main>
    </TransportsProvider>
  );
}
