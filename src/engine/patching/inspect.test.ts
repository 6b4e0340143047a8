// The inspection views (top-k predictions, direct logit attribution, logit lens) against the independent float64
// reference of test/reference/inspect-f64.ts: random tiny models of two configs and the shipped toy IOI model.
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelFromDir } from '../model/weights-node';
import type { GPT2Config, Weights } from '../model/types';
import { createNodeRuntime } from '../runtime/node';
import type { OrtModule } from '../runtime/ort-runtime';
import { createWebRuntime } from '../runtime/web';
import { experimentFromTokens, type Experiment } from './experiment';
import { PatchingEngine } from './index';
import type { Inspection, TokenScore } from './inspect';
import { referenceInspect, type RefInspection, type RefToken } from '../../../test/reference/inspect-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const engines: PatchingEngine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

async function engineFor(cfg: GPT2Config, weights: Weights): Promise<PatchingEngine> {
  const e = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), cfg, weights);
  engines.push(e);
  return e;
}

/** Ids equal; probabilities and logits within tolerance. */
function expectTokens(label: string, got: TokenScore[], want: RefToken[]) {
  expect(got.map((t) => t.id), label).toEqual(want.map((t) => t.id));
  expectClose(`${label} probs`, got.map((t) => t.prob), want.map((t) => t.prob), 1e-5, 1);
  expectClose(`${label} logits`, got.map((t) => t.logit), want.map((t) => t.logit), 1e-4, 1);
}

const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);

/**
 * Checks one inspection against the reference for every pair of both runs: top-k of every prompt, DLA (mean over
 * pairs) component by component and its sum against the reference's logit difference (or target logit), the lens of
 * the lens pair. Returns the reference DLA vectors for further checks.
 */
function check(cfg: GPT2Config, weights: Weights, exp: Experiment, got: Inspection, k: number, lensPair: number) {
  const { nLayers: L, nHeads: H, dVocab: V } = cfg;
  const m = got.position;
  const refs = { clean: [] as RefInspection[], corrupted: [] as RefInspection[] };
  for (const run of ['clean', 'corrupted'] as const) {
    for (let b = 0; b < exp.nPairs; b++) {
      const { target, wrong } = got.direction[b];
      const r = referenceInspect(cfg, weights, exp[run][b], { pos: m, target, wrong, k });
      refs[run].push(r);
      expectTokens(`${run} pair ${b} top ${k}`, got.predictions[run][b], r.top);
      expect(r.logits.length).toBe(V);
    }
    const mean = (f: (r: RefInspection) => number[]) => {
      const vs = refs[run].map(f);
      return vs[0].map((_, i) => sum(vs.map((v) => v[i])) / vs.length);
    };
    const vec = (d: { heads: ArrayLike<number>; mlps: ArrayLike<number>; embed: number; attnBias: number; lnFinalBias: number }) =>
      [...Array.from(d.heads), ...Array.from(d.mlps), d.embed, d.attnBias, d.lnFinalBias];
    const want = mean(vec);
    const dla = got.dla[run];
    const mine = vec({ ...dla, heads: dla.heads.data, mlps: dla.mlps.data });
    expect(dla.heads.axes).toEqual(['layer', 'head']);
    expect(dla.heads.shape).toEqual([L, H]);
    expect(dla.mlps.axes).toEqual(['layer']);
    expect(dla.mlps.shape).toEqual([L]);
    // Within 1e-4 relative of the largest component.
    expectClose(`${run} DLA [heads, mlps, embed, attn bias, ln_final bias]`, mine, want, 1e-4);
    // The components sum to the metric direction's value in the reference's own logits (not in its components).
    const direct = sum(refs[run].map((r, b) => {
      const { target, wrong } = got.direction[b];
      return r.logits[target] - (wrong === null ? 0 : r.logits[wrong]);
    })) / exp.nPairs;
    expect(Math.abs(sum(mine) - direct), `${run}: DLA sums to ${sum(mine)}, the reference's value is ${direct}`).toBeLessThan(1e-4);
    expect(Math.abs(dla.total - sum(mine))).toBeLessThan(1e-9);
    // The lens of the chosen pair, and its last layer is the model's own prediction.
    const lens = got.logitLens[run];
    expect(lens).toHaveLength(L + 1);
    refs[run][lensPair].lens.forEach((want, l) => expectTokens(`${run} lens ${got.logitLens.hooks[l]}`, lens[l], want));
    expect(lens[L].map((t) => t.id)).toEqual(got.predictions[run][lensPair].map((t) => t.id));
  }
  expect(got.logitLens.pair).toBe(lensPair);
  expect(got.logitLens.hooks).toEqual(['blocks.0.hook_resid_pre', ...Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_post`)]);
  return refs;
}

describe('inspection on random tiny models', () => {
  it('logit_diff, 2 pairs, 3 layers x 4 heads: top 5, DLA summing to the logit difference, lens of pair 1', async () => {
    const cfg = tinyConfig({ nLayers: 3, nHeads: 4, dModel: 16, dVocab: 50, name: 'tiny-inspect-a' });
    const weights = randomWeights(cfg, 71);
    const P = 6;
    const clean = [randomTokens(cfg, P, 72), randomTokens(cfg, P, 73)];
    const corrupted = clean.map((c, i) => c.map((t, p) => (p === 2 ? (t + 11 + i) % cfg.dVocab : t)));
    const exp = experimentFromTokens({ clean, corrupted, answers: [4, 9], wrongs: [17, 2] });
    const engine = await engineFor(cfg, weights);
    const got = await engine.inspect(exp, { lensPair: 1 });
    const refs = check(cfg, weights, exp, got, 5, 1);
    // The metric is the logit difference itself, so the DLA total is the metric (and the metric the reference's).
    for (const run of ['clean', 'corrupted'] as const) {
      const ref = sum(refs[run].map((r, b) => r.logits[exp.answers[b]] - r.logits[exp.wrongs[b]])) / 2;
      expect(Math.abs(got.metric[run] - ref)).toBeLessThan(1e-4);
      expect(Math.abs(got.dla[run].total - got.metric[run])).toBeLessThan(1e-4);
    }
    // Non-trivial: every kind of component carries weight, and the two runs differ.
    const d = got.dla.clean;
    for (const x of [Math.max(...d.heads.data.map(Math.abs)), Math.max(...d.mlps.data.map(Math.abs)), d.embed, d.attnBias, d.lnFinalBias]) expect(Math.abs(x)).toBeGreaterThan(1e-3);
    expect(Math.abs(got.dla.clean.total - got.dla.corrupted.total)).toBeGreaterThan(1e-3);
  });

  it('mean_logprob at positions 2 and 4 (3 pairs, 2 layers x 3 heads, d_mlp 20): the direction is the target logit at position 4', async () => {
    const cfg = tinyConfig({ nLayers: 2, nHeads: 3, dModel: 12, dHead: 4, dMlp: 20, dVocab: 40, name: 'tiny-inspect-b' });
    const weights = randomWeights(cfg, 81);
    const P = 7;
    const clean = [82, 83, 84].map((s) => randomTokens(cfg, P, s));
    const corrupted = clean.map((c, i) => c.map((t, p) => (p === 1 ? (t + 5 + i) % cfg.dVocab : t)));
    const exp = experimentFromTokens({ clean, corrupted, answers: [1, 2, 3], positions: [2, 4], spec: { metric: { name: 'mean_logprob' } } });
    const engine = await engineFor(cfg, weights);
    const got = await engine.inspect(exp, { lensPair: 2, k: 3 });
    expect(got.position).toBe(4);
    expect(got.direction).toEqual(clean.map((c) => ({ target: c[5], wrong: null })));
    const refs = check(cfg, weights, exp, got, 3, 2);
    expect(refs.clean[0].lnFinalBias).not.toBe(0);
  });

  it('runs on onnxruntime-web\'s wasm provider (the browser backend) agreeing with the reference as well', async () => {
    const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dVocab: 30, name: 'tiny-inspect-wasm' });
    const weights = randomWeights(cfg, 95);
    const clean = [randomTokens(cfg, 5, 96)];
    const exp = experimentFromTokens({ clean, corrupted: [clean[0].map((t, p) => (p === 1 ? (t + 3) % 30 : t))], answers: [7], wrongs: [8] });
    const ortWeb = (await import('onnxruntime-web')) as unknown as OrtModule;
    const engine = await PatchingEngine.create(await createWebRuntime(ortWeb, { backend: 'wasm' }), cfg, weights);
    engines.push(engine);
    expect(engine.rt.backend).toBe('wasm');
    check(cfg, weights, exp, await engine.inspect(exp), 5, 0);
  });

  it('rejects a lens pair or k out of range', async () => {
    const cfg = tinyConfig({ nLayers: 1, nHeads: 2, dModel: 8, dVocab: 20, name: 'tiny-inspect-c' });
    const engine = await engineFor(cfg, randomWeights(cfg, 91));
    const exp = experimentFromTokens({ clean: [[1, 2, 3]], corrupted: [[1, 4, 3]], answers: [5], wrongs: [6] });
    await expect(engine.inspect(exp, { lensPair: 1 })).rejects.toThrow(/lens pair 1 is not one of the experiment's pairs \(0\.\.0\)/);
    await expect(engine.inspect(exp, { k: 0 })).rejects.toThrow(/whole k from 1 to the vocabulary size 20/);
    await expect(engine.inspect(exp, { k: 2.5 })).rejects.toThrow(/got 2.5/);
  });
});

describe('inspection on the shipped toy IOI model', () => {
  it('two IOI pairs: top 5, DLA summing to the logit difference, lens of pair 0', async () => {
    const { config: cfg, weights } = await loadModelFromDir('public/models/toy-ioi');
    const engine = await engineFor(cfg, weights);
    const exp = engine.resolve({
      pairs: [
        { clean: 'When Mary and John went to the store, John gave the drink to', corrupted: 'When Mary and John went to the store, Mary gave the drink to', answer: ' Mary', wrong: ' John' },
        { clean: 'When Tom and James went to the park, Tom gave the ball to', corrupted: 'When Tom and James went to the park, James gave the ball to', answer: ' James', wrong: ' Tom' },
      ],
      metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true,
    });
    const got = await engine.inspect(exp);
    check(cfg, weights, exp, got, 5, 0);
    // The answer is the clean run's top prediction; the repeated name wins in the corrupted run.
    expect(got.predictions.clean.map((p) => p[0].id)).toEqual(exp.answers);
    expect(got.predictions.corrupted.map((p) => p[0].id)).toEqual(exp.wrongs);
    expect(got.metric.clean).toBeGreaterThan(5);
    expect(Math.abs(got.dla.clean.total - got.metric.clean)).toBeLessThan(1e-4);
    const heads = got.dla.clean.heads.data;
    console.log(`toy IOI clean DLA: heads ${Array.from(heads, (x) => x.toFixed(2)).join(' ')}; mlps ${Array.from(got.dla.clean.mlps.data, (x) => x.toFixed(2)).join(' ')}; embed ${got.dla.clean.embed.toFixed(2)}, b_O ${got.dla.clean.attnBias.toFixed(2)}, ln_f.b ${got.dla.clean.lnFinalBias.toFixed(2)}; total ${got.dla.clean.total.toFixed(3)}`);
  });
});
