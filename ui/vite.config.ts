/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

declare const process: { env: Record<string, string | undefined> };

// The build lands in internal/webui/dist/app, which the Go package embeds
// (go:embed all:dist; dist/.gitkeep keeps the directory when the UI is not built).
// Test files that vi.mock a module (see test.projects below).
const mocking = ['src/views/LoginOIDC.test.tsx'];

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
    setupFiles: ['src/test/setup.ts'],
    // A fresh jsdom per file cost 4/5 of the suite's time (about 50 s of
    // 65 on two cores); the files clean up after themselves (setup.ts), so
    // they share one. Files that vi.mock a module keep their own: a module
    // cache shared with other files would hand them the real module.
    projects: [
      { extends: true, test: { name: 'shared', include: ['src/**/*.test.{ts,tsx}'], exclude: mocking, isolate: false } },
      { extends: true, test: { name: 'isolated', include: mocking } },
    ],
  },
});
