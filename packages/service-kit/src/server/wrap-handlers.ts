import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalHandlerFn } from "@connectrpc/connect/protocol";

/**
 * Replaces every handler registered on `router` by `wrap(handler)`, keeping what adapters read off a
 * handler (its path, method, protocols). Called at the end of the routes callback, before an adapter
 * takes the router's handlers: the one hook where a server sees each call of a known method before
 * Connect parses it and after Connect answered it, whatever the protocol.
 */
export function wrapHandlers(
  router: ConnectRouter,
  wrap: (handler: UniversalHandler) => UniversalHandlerFn,
): void {
  router.handlers.forEach((handler, index) => {
    router.handlers[index] = Object.assign(wrap(handler), handler);
  });
}
