import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app";
import { isWorthRetrying } from "./rpc/errors";
import "./styles/base.css";
import "./styles/views.css";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // An operator asks; a refusal, bad input or an unreachable service shows at once.
      retry: (failures, error) => failures < 1 && isWorthRetrying(error),
      refetchOnWindowFocus: false,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
