/**
 * The environment a process would have on a machine without this repository: pnpm and vitest put
 * npm_config_*, NODE_OPTIONS and a PATH full of workspace bins into ours, and any of them could make
 * a bundle, a service or an npm install work here for the wrong reason. PATH without node_modules
 * entries, HOME, TMPDIR, LANG and TZ, then `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin")
      .split(":")
      .filter((entry) => !entry.includes("node_modules"))
      .join(":"),
  };
  for (const name of ["HOME", "TMPDIR", "LANG", "TZ"]) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return { ...env, ...extra };
}
