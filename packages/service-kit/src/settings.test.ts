import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config.js";
import { actsFor } from "./security/tokens.js";
import { loadServerSettings } from "./settings.js";

const token = "a-long-enough-secret-token";

describe("server settings from the environment", () => {
  it("refuses to start without auth configuration unless auth is disabled on purpose", () => {
    expect(() => loadServerSettings({})).toThrow(/AUTH_TOKENS: no tokens configured/);
    expect(loadServerSettings({ AUTH_DISABLED: "true" }).tokens).toBeUndefined();
    expect(() => loadServerSettings({ AUTH_DISABLED: "true", AUTH_TOKENS: `${token}:admin` })).toThrow(
      ConfigError,
    );
  });

  it("reads tokens from AUTH_TOKENS and AUTH_TOKENS_FILE", () => {
    const file = path.join(tmpdir(), `tokens-${process.pid}`);
    writeFileSync(file, `# gateways\n${token}-2 gateway gw-7:9000 gw-8:9000\n\n${token}-3 admin # ops\n`);
    const { tokens } = loadServerSettings({ AUTH_TOKENS: `${token}:router`, AUTH_TOKENS_FILE: file });
    expect(tokens?.size).toBe(3);
    expect(tokens?.roleOf(token)).toBe("router");
    expect(tokens?.roleOf(`${token}-2`)).toBe("gateway");
    expect(tokens?.roleOf(`${token}-3`)).toBe("admin");
    expect(tokens?.roleOf("something-else-entirely")).toBeUndefined();
    expect(tokens?.callerOf(`${token}-2`)?.gatewayNodes).toEqual(new Set(["gw-7:9000", "gw-8:9000"]));
  });

  it("binds a gateway token to the gateway nodes it names, a wildcard only when written", () => {
    const { tokens } = loadServerSettings({
      AUTH_TOKENS: `${token}-a:gateway@gw-1:9000|[::1]:9000, ${token}-b:gateway@*, ${token}-c:router`,
    });
    const bound = tokens?.callerOf(`${token}-a`);
    expect(bound).toMatchObject({ role: "gateway", gatewayNodes: new Set(["gw-1:9000", "[::1]:9000"]) });
    expect(bound?.tokenId).toMatch(/^[0-9a-f]{12}$/);
    expect(actsFor(bound, "gw-1:9000")).toBe(true);
    expect(actsFor(bound, "gw-2:9000")).toBe(false);
    expect(tokens?.callerOf(`${token}-b`)?.gatewayNodes).toBe("any");
    expect(actsFor(tokens?.callerOf(`${token}-b`), "anything")).toBe(true);
    expect(tokens?.callerOf(`${token}-c`)?.gatewayNodes).toBeUndefined();
    expect(() => loadServerSettings({ AUTH_TOKENS: `${token}:gateway` })).toThrow(
      /AUTH_TOKENS: entry 1 is a gateway token that names no gateway node/,
    );
    expect(() => loadServerSettings({ AUTH_TOKENS: `${token}:router@gw-1:9000` })).toThrow(
      /AUTH_TOKENS: entry 1 names gateway nodes, but a router token acts for none/,
    );
  });

  it("names the variable and never echoes a token", () => {
    const attempt = () => loadServerSettings({ AUTH_TOKENS: `${token}:superuser` });
    expect(attempt).toThrow(/AUTH_TOKENS: entry 1 must be "<token>:<role>"/);
    expect(attempt).not.toThrow(new RegExp(token));
    expect(() => loadServerSettings({ AUTH_TOKENS: "short:admin" })).toThrow(/shorter than 16/);
  });

  it("validates limits, TLS pairs and CORS origins", () => {
    const base = { AUTH_DISABLED: "true" };
    expect(() => loadServerSettings({ ...base, MAX_REQUEST_BYTES: "12kb" })).toThrow(
      /MAX_REQUEST_BYTES: must be an integer/,
    );
    expect(() => loadServerSettings({ ...base, TLS_CERT_FILE: "/x.pem" })).toThrow(/TLS_CERT_FILE/);
    expect(() => loadServerSettings({ ...base, CORS_ALLOWED_ORIGINS: "https://a.test/path" })).toThrow(
      /CORS_ALLOWED_ORIGINS/,
    );
    expect(
      loadServerSettings({ ...base, CORS_ALLOWED_ORIGINS: "https://a.test, http://b.test:8080" }),
    ).toMatchObject({
      corsAllowedOrigins: ["https://a.test", "http://b.test:8080"],
    });
  });

  it("serves unary HTTP/2 calls on the lean path unless LEAN_UNARY_PATH is false", () => {
    const base = { AUTH_DISABLED: "true" };
    expect(loadServerSettings(base).leanUnaryPath).toBe(true);
    expect(loadServerSettings({ ...base, LEAN_UNARY_PATH: "false" }).leanUnaryPath).toBe(false);
    expect(() => loadServerSettings({ ...base, LEAN_UNARY_PATH: "off" })).toThrow(/LEAN_UNARY_PATH/);
  });
});
