import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createContext, type ReactNode, useContext, useMemo } from "react";
import type { ConnectionSettings } from "../connection/settings";
import { bearer } from "./bearer";

/** One Connect transport per service: they live on different origins, with the same bearer token. */
export interface ServiceTransports {
  registry: Transport;
  sequence: Transport;
  settings: ConnectionSettings;
}

const TransportsContext = createContext<ServiceTransports | undefined>(undefined);

/**
 * Connect JSON over HTTP/1.1 (what browsers speak to both services): readable in the devtools network
 * tab, and int64 fields arrive as strings that protobuf-es turns back into bigints.
 */
function transportTo(baseUrl: string, token: string): Transport {
  return createConnectTransport({ baseUrl, useBinaryFormat: false, interceptors: [bearer(token)] });
}

export function TransportsProvider({
  settings,
  children,
}: {
  settings: ConnectionSettings;
  children: ReactNode;
}) {
  const value = useMemo(
    () => ({
      registry: transportTo(settings.registryUrl, settings.token),
      sequence: transportTo(settings.sequenceUrl, settings.token),
      settings,
    }),
    [settings],
  );
  return <TransportsContext.Provider value={value}>{children}</TransportsContext.Provider>;
}

export function useTransports(): ServiceTransports {
  const transports = useContext(TransportsContext);
  if (!transports) throw new Error("useTransports() outside <TransportsProvider>");
  return transports;
}
