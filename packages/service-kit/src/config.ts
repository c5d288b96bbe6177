import { z } from "zod";

/** Thrown when the environment does not describe a valid configuration; names every bad variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Validates environment variables against a zod schema whose keys are the variable names.
 * Empty strings count as unset, so `PORT=` falls back to the default instead of failing as "".
 */
export function parseEnv<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<Shape>> {
  const present = Object.fromEntries(
    Object.keys(shape)
      .map((name) => [name, env[name]] as const)
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = z.object(shape).safeParse(present);
  if (result.success) {
    return result.data;
  }
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const value = present[name];
    return `  ${name}: ${issue.message}${value === undefined ? "" : ` (got ${JSON.stringify(value)})`}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}

/** An integer variable within [min, max]. */
export function envInt(defaultValue: number, min: number, max: number) {
  return z.coerce
    .number({ error: "must be an integer" })
    .int({ error: "must be an integer" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(defaultValue);
}

export const envHost = (defaultValue = "127.0.0.1") => z.string().min(1).default(defaultValue);

export const envPort = (defaultValue: number) => envInt(defaultValue, 0, 65535);

/** A URL with one of the given schemes, e.g. `redis:`. */
export function envUrl(defaultValue: string, protocols: readonly string[]) {
  return z
    .string()
    .default(defaultValue)
    .refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
      error: `must be a URL with scheme ${protocols.map((p) => p.replace(/:$/, "")).join(" or ")}`,
    });
}

/** A comma-separated list of URLs, e.g. etcd endpoints. */
export function envUrlList(defaultValue: string, protocols: readonly string[]) {
  return z
    .string()
    .default(defaultValue)
    .transform((value) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== ""),
    )
    .refine((urls) => urls.length > 0, { error: "must list at least one URL" })
    .refine((urls) => urls.every((url) => URL.canParse(url) && protocols.includes(new URL(url).protocol)), {
      error: `must be comma-separated URLs with scheme ${protocols.map((p) => p.replace(/:$/, "")).join(" or ")}`,
    });
}

export function envEnum<const Values extends readonly [string, ...string[]]>(
  values: Values,
  defaultValue: Values[number],
) {
  return z.enum(values, { error: `must be one of ${values.join(", ")}` }).default(defaultValue);
}
