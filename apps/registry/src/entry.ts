import { fileURLToPath } from "node:url";

/**
 * The path of this service's main.js, for whatever starts it as a process of its own (tests, the bench,
 * scripts/dev). Importing this module starts nothing.
 */
export const registryEntry = fileURLToPath(new URL("./main.js", import.meta.url));
