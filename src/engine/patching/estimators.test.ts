// Every estimator of estimators.ts against the independent float64 reference (test/reference/estimators-f64.ts:
// the definitions of issue #12 with gradients from the float64 backward, itself checked against finite differences,
// and attention recomputed by loops), every family, both directions, on a random 3-layer model; m = 1 is plain AtP;
// the methods' checks.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { runAttribution } from './attribution';
import { checkMethod, type Method } from './estimators';
import { experimentFromTokens } from './experiment';
import { FAMILIES, type Family } from './families';
import { refAtpStar, refContext, refGradDrop, refIgInputs, refIgLayer, refQkFix } from '../../../test/reference/estimators-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

const cfg = tinyConfig({ nLayers: 3, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-estimators' });
const weights = randomWeights(cfg, 44);
const P = 5;
const clean = [randomTokens(cfg, P, 51), randomTokens(cfg, P, 52)];
const corrupted = clean.map((c, i) => c.map((t, p) => (p === 1 || p === 3 ? (t + 5 + i) % cfg.dVocab : t)));
const answers = [4, 9];
const wrongs = [11, 2];
const M = 3; // IG steps

const exp = (direction: 'denoising' | 'noising') => experimentFromTokens({
  clean, corrupted, answers, wrongs,
  spec: { metric: { name: 'logit_diff' }, direction, options: { freezeLayerNorm: false, freezeAttention: false } },
});

function reference(method: Method, family: Family, direction: 'denoising' | 'noising'): number[] {
  const [base, source] = direction === 'denoising' ? [corrupted, clean] : [clean, corrupted];
  const ctx = refContext(cfg, weights, base.map((b, i) => ({ base: b, source: source[i], answer: answers[i], wrong: wrongs[i] })));
  switch (method) {
    case 'qk-fix': return refQkFix(ctx, family);
    case 'graddrop': return refGradDrop(ctx, family);
    case 'atp-star': return refAtpStar(ctx, family);
    case 'ig-inputs': return refIgInputs(ctx, family, M);
    case 'ig-layer': return refIgLayer(ctx, family, M);
    default: throw new Error(method);
  }
}

const METHODS: Method[] = ['qk-fix', 'graddrop', 'atp-star', 'ig-inputs', 'ig-layer'];

describe.each(METHODS)('estimator %s against the float64 reference', (method) => {
  it.each(['denoising', 'noising'] as const)('%s, every family', async (direction) => {
    const families = FAMILIES;
    await rt.setWeights(weights);
    const steps = method.startsWith('ig') ? M : 1;
    const res = await runAttribution(rt, cfg, exp(direction), { families, method, steps });
    expect(res.method).toBe(method);
    for (const f of families) expectClose(`${method} ${direction} ${f}`, res.values[f]!.data, reference(method, f, direction), 1e-4, 1e-6);
  });
});

describe('estimator identities and checks', () => {
  it('m = 1 of both integrated-gradient forms is plain AtP; the QK fix leaves every other family at AtP', async () => {
    await rt.setWeights(weights);
    const e = exp('denoising');
    const atp = await runAttribution(rt, cfg, e, { families: FAMILIES });
    for (const method of ['ig-inputs', 'ig-layer', 'qk-fix'] as const) {
      const r = await runAttribution(rt, cfg, e, { families: FAMILIES, method, steps: 1 });
      for (const f of FAMILIES) {
        if (method === 'qk-fix' && ['q', 'k', 'q_by_pos', 'k_by_pos'].includes(f)) continue;
        expectClose(`${method} m=1 ${f}`, r.values[f]!.data, atp.values[f]!.data, 1e-5, 1e-7);
      }
    }
  });

  it('names what is wrong with a method or a step count', () => {
    expect(() => checkMethod('atp*', 1)).toThrow(/Unknown estimator "atp\*"; choose from atp, qk-fix/);
    expect(() => checkMethod('ig-inputs', 0)).toThrow(/--steps must be an integer from 1 to 256, got 0/);
    expect(() => checkMethod('graddrop', 4)).toThrow(/graddrop estimator takes no steps/);
    expect(checkMethod('ig-layer', 64)).toBe('ig-layer');
  });
});
