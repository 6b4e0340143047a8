import { describe, expect, it } from 'vitest';
import { hookGradFD, paramGradFD, type Metric } from './finite-diff';
import { geluNew, hookShape, referenceForward, type Activation } from './gpt2-f64';
import { logitDiff, meanLogProb } from './metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from './random-weights';

const cfg = tinyConfig({ nLayers: 2, dModel: 8, nHeads: 2, dVocab: 20 });
const weights = randomWeights(cfg, 11);
const { dModel: D, nHeads: H, dHead: dh, dVocab } = cfg;
// Answer and wrong tokens kept out of the prompt so the embedding rows of a and b are unembedding-only.
const tokens = randomTokens(cfg, 6, 5).map((t) => (t < 2 ? t + 2 : t));
const T = tokens.length;
const [a, b] = [0, 1];
const metric: Metric = (l, n, v) => logitDiff(l, n, v, a, b);
const { cache } = referenceForward(cfg, weights, tokens);

function act(c: Map<string, Activation>, name: string): Float64Array {
  return c.get(name)!.data;
}
function w64(name: string): Float64Array {
  return Float64Array.from(weights.get(name)!.data);
}
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number) {
  expect(got.length).toBe(want.length);
  let scale = 1e-3;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]) / scale, `entry ${i}`).toBeLessThan(tol);
}
const size = (hook: string) => hookShape(cfg, hook, T).reduce((x, y) => x * y, 1);

const lnfW = w64('ln_f.weight');
const lnfB = w64('ln_f.bias');
const wte = w64('wte.weight');
/** x_c / scale at the last position: ln_final.hook_normalized (the LN output) with w and b undone. */
const lastNormalized = act(cache, 'ln_final.hook_normalized')
  .subarray((T - 1) * D)
  .map((x, i) => (x - lnfB[i]) / lnfW[i]);
/** d logitDiff / d ln_final output at the last position: W_U[:, a] - W_U[:, b]. */
const dOut = Float64Array.from({ length: D }, (_, i) => wte[a * D + i] - wte[b * D + i]);

describe('hookGradFD against analytic gradients', () => {
  it('ln_final.hook_normalized (the LN output): W_U[:, a] - W_U[:, b] at the last position, 0 elsewhere', () => {
    const grad = hookGradFD(cfg, weights, tokens, metric, 'ln_final.hook_normalized');
    const want = new Float64Array(T * D);
    for (let i = 0; i < D; i++) want[(T - 1) * D + i] = dOut[i];
    expectClose(grad, want, 1e-9);
  });

  it('ln_final.hook_scale: -sum(x_c * w * dOut) / scale^2 at the last position', () => {
    const grad = hookGradFD(cfg, weights, tokens, metric, 'ln_final.hook_scale');
    const s = act(cache, 'ln_final.hook_scale')[T - 1];
    let g = 0;
    for (let i = 0; i < D; i++) g -= ((lastNormalized[i] * s) / (s * s)) * lnfW[i] * dOut[i]; // x_c = n * s
    expectClose(grad, [...new Array(T - 1).fill(0), g], 1e-7);
  });

  it('last resid_post with ln_final scale frozen: the centred w * dOut / scale', () => {
    const freeze = (n: string) => n.endsWith('hook_scale');
    const hook = `blocks.${cfg.nLayers - 1}.hook_resid_post`;
    const grad = hookGradFD(cfg, weights, tokens, metric, hook, undefined, 1e-4, { freeze });
    const s = act(cache, 'ln_final.hook_scale')[T - 1];
    const g = Float64Array.from({ length: D }, (_, i) => (lnfW[i] * dOut[i]) / s);
    const mean = g.reduce((x, y) => x + y, 0) / D;
    const want = new Float64Array(T * D);
    for (let i = 0; i < D; i++) want[(T - 1) * D + i] = g[i] - mean;
    expectClose(grad, want, 1e-8);
    // Unfrozen, the scale's own dependence on the input adds a term.
    const free = hookGradFD(cfg, weights, tokens, metric, hook);
    expect(Math.max(...free.map((x, i) => Math.abs(x - want[i])))).toBeGreaterThan(1e-4);
  });

  it('mlp.hook_pre = mlp.hook_post gradient * gelu_new\'(pre)', () => {
    const pre = act(cache, 'blocks.0.mlp.hook_pre');
    const gPost = hookGradFD(cfg, weights, tokens, metric, 'blocks.0.mlp.hook_post');
    const gPre = hookGradFD(cfg, weights, tokens, metric, 'blocks.0.mlp.hook_pre');
    const h = 1e-5;
    const dGelu = pre.map((x) => (geluNew(x + h) - geluNew(x - h)) / (2 * h));
    expectClose(gPre, gPost.map((g, i) => g * dGelu[i]), 1e-6);
  });

  it('embed, pos_embed and resid_pre of block 0 share one gradient; attn_out and resid_mid too', () => {
    const gEmbed = hookGradFD(cfg, weights, tokens, metric, 'hook_embed');
    expectClose(hookGradFD(cfg, weights, tokens, metric, 'hook_pos_embed'), gEmbed, 1e-7);
    expectClose(hookGradFD(cfg, weights, tokens, metric, 'blocks.0.hook_resid_pre'), gEmbed, 1e-7);
    const gMid = hookGradFD(cfg, weights, tokens, metric, 'blocks.1.hook_resid_mid');
    expectClose(hookGradFD(cfg, weights, tokens, metric, 'blocks.1.hook_attn_out'), gMid, 1e-7);
  });

  it('hook_z gradient = W_O (head-major rows of c_proj) times the attn_out gradient', () => {
    const gOut = hookGradFD(cfg, weights, tokens, metric, 'blocks.1.hook_attn_out');
    const gZ = hookGradFD(cfg, weights, tokens, metric, 'blocks.1.attn.hook_z');
    const W = w64('h.1.attn.c_proj.weight');
    const want = new Float64Array(T * D);
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++)
        for (let e = 0; e < dh; e++) {
          let s = 0;
          for (let m = 0; m < D; m++) s += W[(h * dh + e) * D + m] * gOut[t * D + m];
          want[(t * H + h) * dh + e] = s;
        }
    expectClose(gZ, want, 1e-7);
  });

  it('scores gradient = softmax backward of the pattern gradient, 0 on masked entries', () => {
    const hook = 'blocks.1.attn.hook_attn_scores';
    const gScores = hookGradFD(cfg, weights, tokens, metric, hook);
    const gPattern = hookGradFD(cfg, weights, tokens, metric, 'blocks.1.attn.hook_pattern');
    const p = act(cache, 'blocks.1.attn.hook_pattern');
    const want = new Float64Array(H * T * T);
    for (let r = 0; r < H * T; r++) {
      let dot = 0;
      for (let k = 0; k < T; k++) dot += p[r * T + k] * gPattern[r * T + k];
      for (let k = 0; k < T; k++) want[r * T + k] = p[r * T + k] * (gPattern[r * T + k] - dot);
    }
    expectClose(gScores, want, 1e-7);
    for (let h = 0; h < H; h++) expect(gScores[(h * T + 0) * T + 1]).toBe(0); // masked: query 0, key 1
  });

  it('with attention patterns frozen, keys of the last layer have no gradient', () => {
    const hook = `blocks.${cfg.nLayers - 1}.attn.hook_k`;
    const frozen = hookGradFD(cfg, weights, tokens, metric, hook, undefined, 1e-4, {
      freeze: (n) => n.endsWith('hook_pattern'),
    });
    expect(frozen.every((x) => x === 0)).toBe(true);
    const free = hookGradFD(cfg, weights, tokens, metric, hook);
    expect(Math.max(...free.map(Math.abs))).toBeGreaterThan(1e-4);
  });

  it('a metric at position 0 does not depend on later positions', () => {
    const first: Metric = (l, n, v) => meanLogProb(l, n, v, [0], [3]);
    const grad = hookGradFD(cfg, weights, tokens, first, 'blocks.0.hook_resid_pre');
    expect(grad.subarray(D).every((x) => x === 0)).toBe(true);
    expect(Math.max(...grad.subarray(0, D).map(Math.abs))).toBeGreaterThan(1e-4);
  });

  it('takes chosen indices and rejects bad ones', () => {
    const hook = 'blocks.0.attn.hook_v';
    const all = hookGradFD(cfg, weights, tokens, metric, hook);
    const some = hookGradFD(cfg, weights, tokens, metric, hook, [3, 0, 17]);
    expect(Array.from(some)).toEqual([all[3], all[0], all[17]]);
    expect(() => hookGradFD(cfg, weights, tokens, metric, hook, [size(hook)])).toThrow(/outside/);
    expect(() => hookGradFD(cfg, weights, tokens, metric, 'blocks.0.hook_v', [0])).toThrow(/unknown hook/);
  });
});

describe('paramGradFD against analytic gradients', () => {
  it('ln_f.bias: W_U[:, a] - W_U[:, b]; ln_f.weight: (x_c / scale)[last] * that', () => {
    expectClose(paramGradFD(cfg, weights, tokens, metric, 'ln_f.bias'), dOut, 1e-9);
    const want = lastNormalized.map((x, i) => x * dOut[i]);
    expectClose(paramGradFD(cfg, weights, tokens, metric, 'ln_f.weight'), want, 1e-9);
  });

  it('wte rows of tokens absent from the prompt only unembed: +-ln_final output at the last position', () => {
    const out = act(cache, 'ln_final.hook_normalized').subarray((T - 1) * D);
    const rows = (r: number) => Array.from({ length: D }, (_, i) => r * D + i);
    const grad = paramGradFD(cfg, weights, tokens, metric, 'wte.weight', [...rows(a), ...rows(b)]);
    expectClose(grad, [...out, ...out.map((x) => -x)], 1e-9);
    const absent = [...Array(dVocab).keys()].find((t) => t > 1 && !tokens.includes(t))!;
    expect(paramGradFD(cfg, weights, tokens, metric, 'wte.weight', rows(absent)).every((x) => x === 0)).toBe(true);
  });

  it('a bias gradient is the position sum of its hook gradient: mlp.c_proj.bias and hook_mlp_out', () => {
    const gBias = paramGradFD(cfg, weights, tokens, metric, 'h.0.mlp.c_proj.bias');
    const gOut = hookGradFD(cfg, weights, tokens, metric, 'blocks.0.hook_mlp_out');
    const want = new Float64Array(D);
    for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) want[i] += gOut[t * D + i];
    expectClose(gBias, want, 1e-7);
  });

  it('leaves the weights untouched', () => {
    const before = weights.get('h.1.attn.c_attn.weight')!.data.slice();
    paramGradFD(cfg, weights, tokens, metric, 'h.1.attn.c_attn.weight', [0, 5, 40]);
    expect(weights.get('h.1.attn.c_attn.weight')!.data).toEqual(before);
    expect(referenceForward(cfg, weights, tokens).logits).toEqual(referenceForward(cfg, weights, tokens).logits);
    expect(() => paramGradFD(cfg, weights, tokens, metric, 'lm_head.weight', [0])).toThrow(/unknown weight/);
  });
});
