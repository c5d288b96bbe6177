/**
 * Where the console connects and with which token. The token lives in sessionStorage: it is gone when
 * the tab closes and never shared with other tabs. The service URLs are not secret and are remembered
 * in localStorage, so an operator types them once per browser.
 */
export interface ConnectionSettings {
  registryUrl: string;
  sequenceUrl: string;
  token: string;
}

const TOKEN_KEY = "im-core-admin.token";
const URLS_KEY = "im-core-admin.urls";

/** The URLs `scripts/dev` serves the two services on. */
export const DEV_URLS = { registryUrl: "http://127.0.0.1:8081", sequenceUrl: "http://127.0.0.1:8082" };

/**
 * The URLs to offer on the sign-in form: `?registry=…&sequence=…` in the page's address (a link an
 * operator can share), else the last ones used in this browser, else the local development ones.
 */
export function initialUrls(search: string = location.search): Omit<ConnectionSettings, "token"> {
  const query = new URLSearchParams(search);
  const remembered = readRememberedUrls();
  return {
    registryUrl: query.get("registry") ?? remembered?.registryUrl ?? DEV_URLS.registryUrl,
    sequenceUrl: query.get("sequence") ?? remembered?.sequenceUrl ?? DEV_URLS.sequenceUrl,
  };
}

function readRememberedUrls(): Omit<ConnectionSettings, "token"> | undefined {
  try {
    const value = JSON.parse(localStorage.getItem(URLS_KEY) ?? "null") as Record<string, unknown> | null;
    if (typeof value?.registryUrl === "string" && typeof value.sequenceUrl === "string") {
      return { registryUrl: value.registryUrl, sequenceUrl: value.sequenceUrl };
    }
  } catch {
    // Unreadable or blocked storage: fall back to the defaults.
  }
  return undefined;
}

/** The settings of this tab's session, if the operator signed in. */
export function loadSession(): ConnectionSettings | undefined {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const urls = readRememberedUrls();
  return token && urls ? { ...urls, token } : undefined;
}

export function saveSession(settings: ConnectionSettings): void {
  sessionStorage.setItem(TOKEN_KEY, settings.token);
  localStorage.setItem(
    URLS_KEY,
    JSON.stringify({ registryUrl: settings.registryUrl, sequenceUrl: settings.sequenceUrl }),
  );
}

export function clearSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A service URL without a trailing slash, or an explanation of what is wrong with it. */
export function normalizeServiceUrl(text: string): { url: string } | { problem: string } {
  const trimmed = text.trim();
  if (!URL.canParse(trimmed)) return { problem: "is not a URL like https://registry.example.com" };
  const url = new URL(trimmed);
  if (url.protocol !== "http:" && url.protocol !== "https:") return { problem: "must start with http(s)://" };
  return { url: url.href.replace(/\/+$/, "") };
}
