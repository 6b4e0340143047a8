// The two ways the reference edge estimators take derivatives agree: directional finite differences of the
// per-receiver float64 forward (edges-f64.ts) and the float64 backward's input gradients (backward-f64.ts), for every
// edge of a tiny random model, every edge estimator, both directions. The toy-model tests use the second (fast) way.
import { describe, it } from 'vitest';
import { refEdgeEstimates, type EdgeMethod } from './edge-estimators-f64';
import { randomTokens, randomWeights, tinyConfig } from './random-weights';
import { expectClose } from '../helpers/compare';

const cfg = tinyConfig({ nLayers: 3, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-edge-reference' });
const weights = randomWeights(cfg, 91);
const clean = randomTokens(cfg, 5, 92);
const corrupted = clean.map((t, p) => (p === 2 ? (t + 7) % cfg.dVocab : t));

describe.each(['qk-fix', 'graddrop', 'atp-star', 'ig-inputs'] as EdgeMethod[])('reference edge estimator %s', (method) => {
  it.each(['denoising', 'noising'] as const)('%s: finite differences and gradients agree on every edge', (direction) => {
    const [base, source] = direction === 'denoising' ? [corrupted, clean] : [clean, corrupted];
    const pairs = [{ base, source, answer: 4, wrong: 13 }];
    const fd = refEdgeEstimates(cfg, weights, pairs, method, 2);
    const byGrad = refEdgeEstimates(cfg, weights, pairs, method, 2, 'gradients');
    const names = [...fd.keys()];
    expectClose(`${method} ${direction}`, names.map((n) => byGrad.get(n)!), names.map((n) => fd.get(n)!), 1e-6, 1e-4);
  });
});
