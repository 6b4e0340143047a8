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
    files: ['src/state/**', 'src/viz/**', 'src/ui/**', 'src/cli/**', 'scripts/**', 'src/worker/**'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ORT, message: 'only src/engine/runtime imports onnxruntime' }] }],
    },
  },
);
