/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

declare const process: { env: Record<string, string | undefined> };

// The build lands in internal/webui/dist/app, which the Go package embeds
// (go:embed all:dist; dist/.gitkeep keeps the directory when the UI is not built).
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../internal/webui/dist/app',
    emptyOutDir: true,
    // Nothing inlined as data: URIs and no inline scripts: the server's CSP is strict.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` against a running gantry: GANTRY_URL=https://127.0.0.1:8080 npm run dev
    proxy: {
      '/api': { target: process.env.GANTRY_URL ?? 'https://127.0.0.1:8080', secure: false, changeOrigin: true },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
  },
});
