// Every edge estimator (issue #12) on both shipped toy models against the float64 reference
// (test/reference/edge-estimators-f64.ts, derivatives from the float64 backward, which edge-estimators-f64.test.ts
// checks against the finite-difference form): every edge, both directions, on the key-side induction pair of the edge
// issue (toy induction) and the toy IOI preset's first 2 pairs (GradDrop's |.| per pair averaged). Tolerance: 1e-4
// of the largest |edge score|, and 1e-6 of the metric's size as an absolute floor (float32 noise of near-cancelling
// terms when every score is ~0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../src/engine/model/weights';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine, allEdges } from '../src/engine/patching';
import { presetById } from '../src/ui/presets';
import { refEdgeEstimates, type EdgeMethod } from './reference/edge-estimators-f64';
import { expectClose } from './helpers/compare';

const CHECKS: { method: EdgeMethod; steps: number }[] = [
  { method: 'qk-fix', steps: 1 },
  { method: 'graddrop', steps: 1 },
  { method: 'atp-star', steps: 1 },
  { method: 'ig-inputs', steps: 4 },
];

describe.each([
  { dir: 'public/models/toy-induction', preset: 'toy-induction-keys', nPairs: 1 },
  { dir: 'public/models/toy-ioi', preset: 'toy-ioi', nPairs: 2 },
])('every edge estimator on $preset against the float64 reference', ({ dir, preset, nPairs }) => {
  let m: LoadedModel;
  let eng: PatchingEngine;
  beforeAll(async () => {
    m = await loadModelFromDir(dir);
    eng = await PatchingEngine.create(createNodeRuntime({ threads: 2 }), m.config, m.weights);
  });
  afterAll(() => eng.dispose());

  it.each(['denoising', 'noising'] as const)('%s: every edge of every estimator', async (direction) => {
    const spec = presetById(preset)!.spec;
    const exp = eng.resolve({ ...spec, direction, pairs: spec.pairs.slice(0, nPairs) });
    expect(exp.nPairs).toBe(nPairs);
    const [base, source] = direction === 'denoising' ? [exp.corrupted, exp.clean] : [exp.clean, exp.corrupted];
    const pairs = base.map((b, i) => ({ base: b, source: source[i], answer: exp.answers[i], wrong: exp.wrongs[i] }));
    for (const { method, steps } of CHECKS) {
      const got = await eng.edgeScores(exp, method, steps);
      const scale = Math.max(Math.abs(got.metric.clean), Math.abs(got.metric.corrupted));
      expect(scale).toBeGreaterThan(0.1);
      const want = refEdgeEstimates(m.config, m.weights, pairs, method, steps, 'gradients');
      const { senders, receivers } = got.layout;
      const names = [...want.keys()];
      expect(names.length).toBe(allEdges(got.layout).length);
      const values = names.map((n) => {
        const [u, v] = n.split('->');
        expect(senders.indexOf(u) >= 0 && receivers.indexOf(v) >= 0, n).toBe(true);
        return got.edges[senders.indexOf(u) * receivers.length + receivers.indexOf(v)];
      });
      expectClose(`${preset} ${direction} ${method} edges`, values, names.map((n) => want.get(n)!), 1e-4, 1e-2 * scale);
    }
  }, 300_000);
});
