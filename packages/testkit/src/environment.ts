/**
 * The environment a process would have on a machine without this repository: pnpm and vitest put
 * npm_config_*, NODE_OPTIONS and a PATH full of workspace bins into ours, and any of them could make
 * a bundle, a service or an npm install work here for the wrong reason. PATH without node_modules
 * entries, HOME, TMPDIR, LANG and TZ, NODE_EXTRA_CA_CERTS, then `extra`.
 *
 * NODE_EXTRA_CA_CERTS belongs to the machine, not the repository: behind a TLS-intercepting proxy it is
 * how Node trusts the proxy's CA. Debian's Node 20 reads the system store and never needed it, but the
 * official binaries (the project's Node 24) read only their bundled roots, so without it `npm install`
 * from the registry retries SELF_SIGNED_CERT_IN_CHAIN until it times out.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin")
      .split(":")
      .filter((entry) => !entry.includes("node_modules"))
      .join(":"),
  };
  for (const name of ["HOME", "TMPDIR", "LANG", "TZ", "NODE_EXTRA_CA_CERTS"]) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return { ...env, ...extra };
}
