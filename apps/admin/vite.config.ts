import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The dev server's origin is fixed (127.0.0.1:5173, refusing another port) because both services allow
 * it by name in CORS_ALLOWED_ORIGINS (infra/local/dev.ts). `base: "./"` keeps the build servable from
 * any path.
 */
export default defineConfig({
  base: "./",
  plugins: [react()],
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true },
  build: { outDir: "dist", sourcemap: true, target: "es2022" },
});
