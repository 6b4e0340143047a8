// Issue #12 on the shipped toy IOI model: the QK fix recovers the query effect that plain attribution gets wrong
// (a saturated softmax), and integrated gradients per layer are complete at 64 steps: attn_out summed over
// positions at the layer with the largest whole-layer effect is within 1% of the exact patch of that whole output
// (the exact value from the independent float64 reference).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../src/engine/model/weights';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { FAMILIES, PatchingEngine, type Method } from '../src/engine/patching';
import { IOI_MODEL_DIR } from '../src/engine/train/toy';
import { PRESETS } from '../src/ui/presets';
import { expectClose } from './helpers/compare';
import { refAtp, refAtpStar, refContext, refGradDrop, refIgInputs, refIgLayer, refPatchWhole, refQkFix } from './reference/estimators-f64';

let model: LoadedModel;
let engine: PatchingEngine;
beforeAll(async () => {
  model = await loadModelFromDir(IOI_MODEL_DIR);
  engine = await PatchingEngine.create(createNodeRuntime({ threads: 2 }), model.config, model.weights);
});
afterAll(() => engine.dispose());

describe('estimators on the toy IOI model', () => {
  it('the QK fix gives the sign of the exact patch of head 2.3\'s queries, within 0.5; plain AtP gives the wrong sign', async () => {
    const exp = engine.resolve({
      pairs: [{ clean: 'When Mary and John went to the store, John gave the drink to', corrupted: 'When Mary and John went to the store, Mary gave the drink to', answer: ' Mary', wrong: ' John' }],
      metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true,
    });
    const H = model.config.nHeads;
    const at = (x: Float64Array) => x[2 * H + 3];
    const atp = at((await engine.attribute(exp, { families: ['q'] })).values.q!.data);
    const fixed = at((await engine.attribute(exp, { families: ['q'], method: 'qk-fix' })).values.q!.data);
    const exact = await engine.patch(exp, 'q', [2, 3]);
    console.log(`head 2.3 queries: AtP ${atp.toFixed(3)}, QK fix ${fixed.toFixed(3)}, exact ${exact.toFixed(3)}`);
    expect(Math.sign(atp)).not.toBe(Math.sign(exact));
    expect(Math.sign(fixed)).toBe(Math.sign(exact));
    expect(Math.abs(fixed - exact)).toBeLessThan(0.5);
  });

  it('ig-layer with 64 steps is complete on the preset\'s attn_out (within 1% of the whole-layer patch)', async () => {
    const exp = engine.resolve(PRESETS.find((p) => p.id === 'toy-ioi')!.spec);
    const ctx = refContext(model.config, model.weights, exp.clean.map((c, i) => ({ base: exp.corrupted[i], source: c, answer: exp.answers[i], wrong: exp.wrongs[i] })));
    const L = model.config.nLayers;
    const whole = Array.from({ length: L }, (_, l) => refPatchWhole(ctx, `blocks.${l}.hook_attn_out`));
    const l = whole.reduce((best, x, i) => (Math.abs(x) > Math.abs(whole[best]) ? i : best), 0);
    const ig = (await engine.attribute(exp, { families: ['attn_out'], method: 'ig-layer', steps: 64 })).values.attn_out!;
    const P = exp.nPos;
    const summed = ig.data.subarray(l * P, (l + 1) * P).reduce((a, b) => a + b, 0);
    const atp = (await engine.attribute(exp, { families: ['attn_out'] })).values.attn_out!.data.subarray(l * P, (l + 1) * P).reduce((a, b) => a + b, 0);
    console.log(`whole attn_out patches by layer ${whole.map((x) => x.toFixed(3)).join(' ')}; layer ${l}: ig-layer(64) ${summed.toFixed(3)}, AtP ${atp.toFixed(3)}`);
    expect(Math.abs(summed - whole[l])).toBeLessThan(0.01 * Math.abs(whole[l]));
  });
});

// Every estimator on both shipped toy models against the float64 reference (estimators-f64.ts: the definitions of
// issue #12 on the float64 forward and backward), every family, both directions, on the preset's first pairs (one
// for toy induction, two for toy IOI, so GradDrop's |.| per pair is averaged). One engine call per estimator and
// direction computes every family; the reference shares its runs across estimators (one context per direction).
// Tolerance, per family: 1e-4 of the family's largest |value|, and for a family whose values are all ~0 (e.g. q and k
// of layer 0 with nothing to attend), 1e-6 of the metric's size (the larger |clean| or |corrupted| metric) as an
// absolute floor: float32 noise of near-cancelling terms is not an estimator error.
const CHECKS: { method: Method; steps: number }[] = [
  { method: 'qk-fix', steps: 1 },
  { method: 'graddrop', steps: 1 },
  { method: 'atp-star', steps: 1 },
  { method: 'ig-inputs', steps: 4 },
  { method: 'ig-layer', steps: 4 },
];

describe.each([
  { dir: 'public/models/toy-induction', preset: 'toy-induction', nPairs: 1 },
  { dir: 'public/models/toy-ioi', preset: 'toy-ioi', nPairs: 2 },
])('every estimator on $preset against the float64 reference', ({ dir, preset, nPairs }) => {
  let m: LoadedModel;
  let eng: PatchingEngine;
  beforeAll(async () => {
    m = await loadModelFromDir(dir);
    eng = await PatchingEngine.create(createNodeRuntime({ threads: 2 }), m.config, m.weights);
  });
  afterAll(() => eng.dispose());

  it.each(['denoising', 'noising'] as const)('%s: every family of every estimator', async (direction) => {
    const spec = PRESETS.find((p) => p.id === preset)!.spec;
    const exp = eng.resolve({ ...spec, direction, pairs: spec.pairs.slice(0, nPairs) });
    expect(exp.nPairs).toBe(nPairs);
    const [base, source] = direction === 'denoising' ? [exp.corrupted, exp.clean] : [exp.clean, exp.corrupted];
    const ctx = refContext(m.config, m.weights, base.map((b, i) => ({ base: b, source: source[i], answer: exp.answers[i], wrong: exp.wrongs[i] })));
    for (const { method, steps } of CHECKS) {
      const got = await eng.attribute(exp, { families: FAMILIES, method, steps });
      const scale = Math.max(Math.abs(got.metric.clean), Math.abs(got.metric.corrupted));
      expect(scale).toBeGreaterThan(0.1); // the pair moves the metric
      for (const f of FAMILIES) {
        const want = REFERENCE[method](ctx, f, steps);
        expectClose(`${preset} ${direction} ${method} ${f}`, got.values[f]!.data, want, 1e-4, 1e-2 * scale);
      }
    }
  }, 300_000);
});

const REFERENCE: Record<Method, (ctx: Parameters<typeof refAtp>[0], family: string, steps: number) => number[]> = {
  atp: (c, f) => refAtp(c, f),
  'qk-fix': (c, f) => refQkFix(c, f),
  graddrop: (c, f) => refGradDrop(c, f),
  'atp-star': (c, f) => refAtpStar(c, f),
  'ig-inputs': (c, f, m) => refIgInputs(c, f, m),
  'ig-layer': (c, f, m) => refIgLayer(c, f, m),
};
