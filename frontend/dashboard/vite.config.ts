import { defineConfig } from "vite";

// Built files land in dist/ (Django's STATICFILES_DIRS), under dashboard/ so they are served at
// /static/dashboard/…; the manifest tells the Django template which hashed files to load.
export default defineConfig({
  base: "/static/",
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "dashboard/assets",
    manifest: "dashboard/manifest.json",
    target: "es2020",
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      input: "src/main.ts",
    },
  },
});
