import { useSyncExternalStore } from "react";

/**
 * Routes live in the address's hash (`#/lookup?users=alice`), so the static build works from any web
 * server or path, and every view has a link an operator can paste into an incident channel.
 */
export interface Route {
  view: string;
  params: URLSearchParams;
}

const subscribe = (onChange: () => void) => {
  window.addEventListener("hashchange", onChange);
  return () => window.removeEventListener("hashchange", onChange);
};

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => location.hash);
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?");
  return { view: path, params: new URLSearchParams(query) };
}

export function routeHref(view: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params).toString();
  return `#/${view}${query ? `?${query}` : ""}`;
}

export function navigate(view: string, params: Record<string, string> = {}): void {
  location.hash = routeHref(view, params);
}
