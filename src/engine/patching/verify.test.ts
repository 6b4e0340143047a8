// Verify top K: the cells chosen (the estimate's top K by |value|, then seeded random others), their exact values
// against reruns of the float64 reference, and the recall of the true top K against a reference sweep.
import { afterAll, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { PatchingEngine } from './index';
import { experimentFromTokens } from './experiment';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { referencePatch } from '../../../test/reference/patch-f64';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import { logitDiff } from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';

const cfg = tinyConfig({ nLayers: 2, nHeads: 3, dModel: 12, dHead: 4, dMlp: 16, dVocab: 30, name: 'tiny-verify' });
const weights = randomWeights(cfg, 61);
let engine: PatchingEngine;
afterAll(() => engine?.dispose());

it('patches the top K by |estimate| and R seeded random others exactly, and counts the true top K found', async () => {
  engine = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), cfg, weights);
  const P = 6;
  const clean = randomTokens(cfg, P, 3);
  const corrupted = clean.map((t, p) => (p === 2 ? (t + 9) % cfg.dVocab : t));
  const exp = experimentFromTokens({ clean: [clean], corrupted: [corrupted], answers: [5], wrongs: [7] });
  const est = (await engine.attribute(exp, { families: ['head_out'] })).values.head_out!;
  const metric = (l: Float64Array) => logitDiff(l, P, cfg.dVocab, 5, 7);
  const base = metric(referenceForward(cfg, weights, corrupted).logits);
  const exactOf = (index: number[]) => {
    const { hook, entries } = refCell('head_out', cfg, P, index);
    return referencePatch(cfg, weights, { target: corrupted, source: clean, hook, mask: entries, metric }) - base;
  };
  const all = refIndices('head_out', cfg, P);
  const exact = { ...est, data: Float64Array.from(all.map(exactOf)) };

  const v = await engine.verifyTopK(exp, 'head_out', est, { k: 4, random: 3, seed: 7, exact });
  expect(v.cells).toHaveLength(7);
  const byEstimate = [...est.data.keys()].sort((a, b) => Math.abs(est.data[b]) - Math.abs(est.data[a]) || a - b).slice(0, 4);
  expect(v.cells.filter((c) => c.top).map((c) => all.findIndex((i) => i.join() === c.index.join()))).toEqual(byEstimate);
  const others = v.cells.filter((c) => !c.top).map((c) => c.index.join());
  expect(new Set(others).size).toBe(3);
  for (const c of v.cells) expect(c.exact).toBeCloseTo(exactOf(c.index), 5);
  const truth = [...exact.data.keys()].sort((a, b) => Math.abs(exact.data[b]) - Math.abs(exact.data[a]) || a - b).slice(0, 4);
  expect(v.recall).toBe(byEstimate.filter((i) => truth.includes(i)).length / 4);
  // The same seed draws the same others.
  const again = await engine.verifyTopK(exp, 'head_out', est, { k: 4, random: 3, seed: 7 });
  expect(again.cells.filter((c) => !c.top).map((c) => c.index.join())).toEqual(others);
  expect(again.recall).toBeUndefined();
  await expect(engine.verifyTopK(exp, 'head_out', est, { k: 0 })).rejects.toThrow(/K >= 1/);
});
