// Vite: React, a module worker (it code-splits and loads onnxruntime-web lazily), onnxruntime's wasm as an asset.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Connect, type Plugin } from 'vite';

/**
 * Development aid: PATCHWORK_TOY_DIR=/some/dir serves that folder as models/toy-induction/ (dev and preview), for
 * working on the app before the trained checkpoint is in public/models/ or against a stand-in. Unset: no effect.
 */
function toyModelOverride(): Plugin {
  const dir = process.env.PATCHWORK_TOY_DIR;
  const middleware: Connect.NextHandleFunction = (req, res, next) => {
    const m = /\/models\/toy-induction\/([\w.-]+)$/.exec((req.url ?? '').split('?')[0]);
    if (!dir || !m) return next();
    const file = normalize(join(dir, m[1]));
    if (!file.startsWith(normalize(dir)) || !existsSync(file)) return next();
    res.setHeader('content-length', String(statSync(file).size));
    res.setHeader('content-type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    createReadStream(file).pipe(res);
  };
  return {
    name: 'patchwork-toy-model-override',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}

/**
 * Cross-origin isolation (COOP + COEP): without it the browser gives wasm no SharedArrayBuffer and onnxruntime-web
 * runs on one thread. Cross-origin fetches (the hub, a user's model host) still work: they are CORS requests.
 * Static hosts that cannot send headers get them from public/coi-serviceworker.js (README, Deploying).
 */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  // Relative asset URLs, so the built app works from any path (a static host's subfolder, a file server).
  base: './',
  plugins: [react(), toyModelOverride()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 6000 },
  // Pre-bundling would move onnxruntime-web away from its .wasm and .mjs siblings.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: ISOLATION_HEADERS },
  preview: { port: 4173, strictPort: true, headers: ISOLATION_HEADERS },
});
