// Sessions that outlive a prompt (issue 15): after one prompt, a prompt of a length never seen before runs
// attribution, a cell patch and a whole sweep without creating a session, and its numbers match the independent
// float64 reference (so no constant of the first length leaked into the shared graphs).
import { afterAll, expect, it } from 'vitest';
import { createNodeRuntime } from './node';
import { PatchingEngine } from '../patching';
import { experimentFromTokens, type Experiment } from '../patching/experiment';
import type { Family } from '../patching/types';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import { hookGradFD, type Metric } from '../../../test/reference/finite-diff';
import { referencePatch } from '../../../test/reference/patch-f64';
import * as M from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-sessions' });
const weights = randomWeights(cfg, 5);
const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

function pairAt(P: number, seed: number): Experiment {
  const clean = [randomTokens(cfg, P, seed)];
  const corrupted = clean.map((c) => c.map((t, p) => (p === 1 ? (t + 7) % cfg.dVocab : t)));
  return experimentFromTokens({ clean, corrupted, answers: [4], wrongs: [11] });
}

const FAMS: Family[] = ['resid_pre', 'head_out', 'pattern', 'mlp_out'];

it('a second prompt of a new length creates no session, and its numbers match the float64 reference', async () => {
  const engine = await PatchingEngine.create(rt, cfg, weights);
  const first = pairAt(5, 1);
  await engine.attribute(first, { families: FAMS });
  await engine.sweep(first, 'head_out');
  await engine.sweep(first, 'resid_pre');
  const created = rt.sessionsCreated;
  expect(created).toBeGreaterThan(0);

  const P = 8;
  const exp = pairAt(P, 2);
  const attr = await engine.attribute(exp, { families: FAMS });
  const sweep = await engine.sweep(exp, 'head_out');
  const resid = await engine.sweep(exp, 'resid_pre');
  const one = await engine.patch(exp, 'head_out', [1, 0, 6]);
  expect(rt.sessionsCreated).toBe(created);

  const [base, source] = [exp.corrupted[0], exp.clean[0]];
  const metric: Metric = (l) => M.logitDiff(l, P, cfg.dVocab, 4, 11);
  const baseRun = referenceForward(cfg, weights, base);
  const srcRun = referenceForward(cfg, weights, source);
  const baseMetric = metric(baseRun.logits, P, cfg.dVocab);
  for (const family of FAMS) {
    const indices = refIndices(family, cfg, P);
    const want = new Float64Array(indices.length);
    for (let l = 0; l < cfg.nLayers; l++) {
      const { hook } = refCell(family, cfg, P, indices.find((i) => i[0] === l)!);
      const grad = hookGradFD(cfg, weights, base, metric, hook, undefined, 1e-4);
      const b = baseRun.cache.get(hook)!.data;
      const s = srcRun.cache.get(hook)!.data;
      indices.forEach((cell, n) => {
        if (cell[0] === l) for (const e of refCell(family, cfg, P, cell).entries) want[n] += (s[e] - b[e]) * grad[e];
      });
    }
    expectClose(`attribution ${family} at ${P} tokens`, attr.values[family]!.data, want, 2e-3, 1e-4);
  }
  for (const [family, got] of [['head_out', sweep.data], ['resid_pre', resid.data]] as const) {
    const want = refIndices(family, cfg, P).map((cell) => {
      const { hook, entries } = refCell(family, cfg, P, cell);
      return referencePatch(cfg, weights, { target: base, source, hook, mask: entries, metric }) - baseMetric;
    });
    expectClose(`sweep ${family} at ${P} tokens`, got, want, 1e-3, 1e-5);
  }
  expect(one).toBeCloseTo(sweep.data[(1 * cfg.nHeads + 0) * P + 6], 5);
});
