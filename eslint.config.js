// Lint: TypeScript rules plus the layer direction of docs/ARCHITECTURE.md, enforced here rather than by memory:
//   engine/graph -> engine/model -> engine/runtime -> engine/patching -> state -> ui / viz
// Only engine/runtime imports onnxruntime; nothing in engine/ imports React or touches the DOM.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const ORT = ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-web/*', 'onnxruntime-common'];
const UI_LIBS = ['react', 'react-dom', 'react-dom/*', 'zustand', 'zustand/*', 'd3', 'd3-*', 'plotly.js*'];
const upper = (dirs) => dirs.map((d) => `**/${d}/**`);

function layer(files, forbidden, message, extraGlobals = []) {
  return {
    files,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message }] }],
      'no-restricted-globals': ['error', ...['document', 'window', 'localStorage', ...extraGlobals].map((name) => ({ name, message: 'engine code never touches the DOM' }))],
    },
  };
}

/**
 * Engine modules that build or run graphs: the worker's, never the page's (they pull in the graph builder and
 * onnx-proto). Written as a regex because a gitignore pattern for engine/patching would also match its pure
 * modules (types, experiment, normalise, families).
 */
const ENGINE_HEAVY = String.raw`(^|/)engine/(graph(/.*)?|model/gpt2|runtime/(?!types$)[^/]+|patching(/(index|attribution|activation|metrics))?|train/(?!(toy|ioi-data|data)$)[^/]+)$`;
/** The worker's entry: the page starts it by URL (worker/client), never imports it. */
const WORKER_HOST = ['**/worker/engine.worker'];

/** An app layer: no onnxruntime, no engine graph code (type imports excepted), and its own forbidden imports. */
function appLayer(files, forbidden, message, { engineHeavy = false, ignores = [] } = {}) {
  return {
    files,
    ignores: ['**/*.test.ts', '**/*.test.tsx', ...ignores],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ORT, message: 'only src/engine/runtime imports onnxruntime' },
          ...(engineHeavy ? [] : [{
            regex: ENGINE_HEAVY,
            allowTypeImports: true,
            message: 'graph-building engine code runs in the worker; the page imports pure engine modules (types, experiment, normalise, families) only',
          }]),
          { group: forbidden, message },
        ],
      }],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', '.cache/**', 'bench-results/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'public/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  layer(['src/engine/graph/**'], [...ORT, ...UI_LIBS, ...upper(['model', 'runtime', 'patching', 'state', 'ui', 'viz', 'worker', 'cli'])],
    'engine/graph is the bottom layer: it imports nothing from the layers above, nor onnxruntime, React or the DOM'),
  layer(['src/engine/model/**'], [...ORT, ...UI_LIBS, ...upper(['runtime', 'patching', 'state', 'ui', 'viz', 'worker', 'cli'])],
    'engine/model sits on engine/graph only; onnxruntime is imported by engine/runtime alone'),
  layer(['src/engine/runtime/**'], [...UI_LIBS, ...upper(['patching', 'state', 'ui', 'viz', 'worker', 'cli'])],
    'engine/runtime sits below engine/patching and never imports React'),
  layer(['src/engine/patching/**'], [...ORT, ...UI_LIBS, ...upper(['state', 'ui', 'viz', 'worker', 'cli'])],
    'engine/patching uses runtimes through engine/runtime/types only; no onnxruntime, React or DOM'),
  layer(['src/engine/train/**'], [...ORT, ...UI_LIBS, ...upper(['patching', 'state', 'ui', 'viz', 'worker', 'cli'])],
    'engine/train sits beside engine/patching, on graph, model and runtime; no onnxruntime, React or DOM'),
  {
    files: ['src/cli/**', 'scripts/**'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ORT, message: 'only src/engine/runtime imports onnxruntime' }] }],
    },
  },
  // The app: state -> ui / viz, with the worker beside them on engine/. Type-only imports of engine modules are
  // allowed (they vanish from the bundle); value imports of the graph builder and the patching engine are not, so
  // the page bundle never carries them (they belong in the worker).
  appLayer(['src/state/**'], [...upper(['ui', 'viz']), ...UI_LIBS.filter((l) => !l.startsWith('zustand')), ...WORKER_HOST],
    'state sits below ui and viz: it imports neither, nor React, d3 or plotly'),
  appLayer(['src/viz/**'], [...upper(['state', 'ui', 'worker']), 'zustand', 'zustand/*'],
    'viz draws what it is given: it imports neither state nor ui nor the worker'),
  appLayer(['src/ui/**'], [...WORKER_HOST, '**/worker/model-loader'],
    'ui talks to the engine through state\'s actions and the worker protocol/client only'),
  // The worker's page half (client, protocol, model-loader) is in the page bundle too; only its entry runs graphs.
  appLayer(['src/worker/**'], [...upper(['state', 'ui', 'viz']), ...UI_LIBS],
    'the worker sits on engine/: it imports no state, ui or viz, nor React', { ignores: ['src/worker/engine.worker.ts'] }),
  appLayer(['src/worker/engine.worker.ts'], [...upper(['state', 'ui', 'viz']), ...UI_LIBS],
    'the worker sits on engine/: it imports no state, ui or viz, nor React', { engineHeavy: true }),
);
