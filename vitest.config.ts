import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is cores - 1 workers: one on the 2-core CI machine, so the files ran one after another (7 min,
    // 363 s of tests in 421 s). Most tests are single-threaded (onnxruntime-node at 1 thread, the float64 reference),
    // so two forks use both cores: node-sets + toy-edge-estimators, back to back on the shared machine, 57 s -> 46 s.
    maxWorkers: 2,
  },
});
