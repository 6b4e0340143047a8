// Fixtures: the backend of the project, the app page object, and a Node-side reference engine (onnxruntime-node)
// on the same checkpoint the app serves, so numbers are checked against an independent runtime.
import { test as base, expect } from '@playwright/test';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { PatchingEngine } from '../src/engine/patching';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { AppPage, type Backend } from './pages';

export interface E2EOptions {
  backend: Backend;
}

/** The offline model the app serves (PATCHWORK_TOY_DIR overrides it in vite.config.ts as well). */
export const TOY_DIR = process.env.PATCHWORK_TOY_DIR ?? 'public/models/toy-induction';

export const test = base.extend<E2EOptions & { app: AppPage }, { reference: PatchingEngine }>({
  backend: ['wasm', { option: true }],
  app: async ({ page, backend }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await use(new AppPage(page, backend));
    expect(errors, 'uncaught errors in the page').toEqual([]);
  },
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern: none
  reference: [async ({}, use) => {
    const { config, weights } = await loadModelFromDir(TOY_DIR, 'toy-induction');
    const engine = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), config, weights);
    await use(engine);
    await engine.dispose();
  }, { scope: 'worker' }],
});

export { expect };

/**
 * |a - b| <= rel * max(|a|, |b|) + floor. The values are changes of a metric computed in float32, so an entry near
 * 0 carries absolute noise of about float32 epsilon times the metric's size: the floor is 1e-6 of `scale` (pass
 * the metric's magnitude) or of the array's largest entry. `worst` is the largest |a - b| / tolerance.
 */
export function compareArrays(
  actual: ArrayLike<number | null>, expected: ArrayLike<number>, opts: { rel?: number; scale?: number } = {},
): { ok: boolean; maxAbsDiff: number; worst: number } {
  const rel = opts.rel ?? 1e-4;
  let scale = opts.scale ?? 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = 1e-6 * scale + 1e-12;
  let maxAbsDiff = 0;
  let worst = actual.length === expected.length ? 0 : Infinity;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? NaN;
    const b = expected[i];
    const d = Math.abs(a - b);
    if (Number.isNaN(d)) {
      worst = Infinity;
      continue;
    }
    maxAbsDiff = Math.max(maxAbsDiff, d);
    worst = Math.max(worst, d / (rel * Math.max(Math.abs(a), Math.abs(b)) + floor));
  }
  return { ok: worst <= 1, maxAbsDiff, worst };
}
