// minLogSumExp (where the sealed logit of untrained rows is placed) against the independent float64 reference.
import { afterAll, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { checkSeal, minLogSumExp } from './eval';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { logSumExp } from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

it('minLogSumExp is the smallest log-sum-exp of the logits over the real (unpadded) positions', async () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, nCtx: 16 });
  const weights = randomWeights(cfg, 11);
  const seqs = [randomTokens(cfg, 9, 1), randomTokens(cfg, 5, 2), randomTokens(cfg, 7, 3)];
  let want = Infinity;
  for (const s of seqs) {
    const { logits } = referenceForward(cfg, weights, s);
    for (let t = 0; t < s.length; t++) want = Math.min(want, logSumExp(logits.subarray(t * cfg.dVocab, (t + 1) * cfg.dVocab)));
  }
  expect(await minLogSumExp(rt, cfg, weights, seqs)).toBeCloseTo(want, 4);
});

it('checkSeal reports the range of one token\'s logit and the largest share of `count` such tokens', async () => {
  const cfg = tinyConfig({ nLayers: 1, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, nCtx: 16 });
  const weights = randomWeights(cfg, 12);
  const seqs = [randomTokens(cfg, 6, 4), randomTokens(cfg, 4, 5)];
  let [lo, hi, mass] = [Infinity, -Infinity, 0];
  for (const s of seqs) {
    const { logits } = referenceForward(cfg, weights, s);
    for (let t = 0; t < s.length; t++) {
      const row = logits.subarray(t * cfg.dVocab, (t + 1) * cfg.dVocab);
      [lo, hi] = [Math.min(lo, row[7]), Math.max(hi, row[7])];
      mass = Math.max(mass, 3 * Math.exp(row[7] - logSumExp(row)));
    }
  }
  const got = await checkSeal(rt, cfg, weights, seqs, 7, 3);
  expect(got.minLogit).toBeCloseTo(lo, 4);
  expect(got.maxLogit).toBeCloseTo(hi, 4);
  expect(got.maxMass).toBeCloseTo(mass, 5);
});
