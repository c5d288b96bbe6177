import { Code, ConnectError } from "@connectrpc/connect";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app";
import { isWorthRetrying } from "./rpc/errors";
import "./styles.css";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // An operator asks; a refused token or bad input shows at once. Only an outage is retried, once.
      retry: (failures, error) => failures < 1 && isWorthRetrying(error) && !isUnreachable(error),
      refetchOnWindowFocus: false,
    },
  },
});

/** A browser's network failure: retrying hides the message for seconds and rarely helps. */
function isUnreachable(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Unknown;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
