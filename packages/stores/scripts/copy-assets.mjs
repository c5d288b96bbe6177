// tsc only emits JavaScript: copy the files the code reads at run time (Lua scripts) next to it.
import { cpSync, readdirSync } from "node:fs";

for (const file of readdirSync("src/redis").filter((name) => name.endsWith(".lua"))) {
  cpSync(`src/redis/${file}`, `dist/redis/${file}`);
}
