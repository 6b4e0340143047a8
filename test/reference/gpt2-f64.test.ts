import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Weights } from '../../src/engine/model/types';
import {
  flatIndex,
  geluNew,
  hookNames,
  hookShape,
  referenceForward,
  toFloat64Weights,
  type Activation,
} from './gpt2-f64';
import { randomTokens, randomWeights, tinyConfig } from './random-weights';

const cfg = tinyConfig(); // 3 layers, 4 heads, d_model 16, d_mlp 64, d_vocab 50
const weights = randomWeights(cfg, 1);
const tokens = randomTokens(cfg, 12, 7);
const T = tokens.length;
const { dModel: D, nHeads: H, dHead: dh, dMlp, dVocab, layerNormEps: eps } = cfg;

function act(cache: Map<string, Activation>, name: string): Float64Array {
  const a = cache.get(name);
  if (!a) throw new Error(`no ${name} in cache`);
  return a.data;
}

function w64(name: string): Float64Array {
  return Float64Array.from(weights.get(name)!.data);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** x [rows, nIn] @ W [nIn, nOut] + b, written independently of the reference's own helper. */
function matmul(x: Float64Array, rows: number, nIn: number, nOut: number, W: Float64Array, b?: Float64Array) {
  const out = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < nOut; j++) {
      let s = b ? b[j] : 0;
      for (let i = 0; i < nIn; i++) s += x[r * nIn + i] * W[i * nOut + j];
      out[r * nOut + j] = s;
    }
  return out;
}

const base = referenceForward(cfg, weights, tokens);
const cache = base.cache;

describe('hook names and shapes', () => {
  it('records every TransformerLens hook, in firing order, with its shape', () => {
    expect([...cache.keys()]).toEqual(hookNames(cfg));
    expect(cache.size).toBe(2 + 17 * cfg.nLayers + 2);
    for (const [name, a] of cache) {
      expect(a.shape, name).toEqual(hookShape(cfg, name, T));
      expect(a.data.length, name).toBe(a.shape.reduce((x, y) => x * y, 1));
      expect(a.data.every((x) => !Number.isNaN(x)), name).toBe(true);
    }
    expect(hookShape(cfg, 'blocks.1.attn.hook_z', T)).toEqual([T, H, dh]);
    expect(hookShape(cfg, 'blocks.1.attn.hook_pattern', T)).toEqual([H, T, T]);
    expect(hookShape(cfg, 'blocks.2.ln2.hook_scale', T)).toEqual([T, 1]);
    expect(hookShape(cfg, 'blocks.0.mlp.hook_post', T)).toEqual([T, dMlp]);
    expect(() => hookShape(cfg, 'blocks.0.attn.hook_attn_pattern', T)).toThrow(/unknown hook/);
    expect(() => hookShape(cfg, 'blocks.3.hook_resid_pre', T)).toThrow(/unknown hook/);
    expect(base.logits.length).toBe(T * dVocab);
  });

  it('flatIndex is row-major', () => {
    expect(flatIndex([H, T, T], [2, 5, 3])).toBe((2 * T + 5) * T + 3);
    expect(() => flatIndex([2, 3], [2, 0])).toThrow();
  });
});

describe('residual stream', () => {
  it('embeddings are the checkpoint rows, exactly', () => {
    const wte = weights.get('wte.weight')!.data;
    const wpe = weights.get('wpe.weight')!.data;
    const embed = act(cache, 'hook_embed');
    const pos = act(cache, 'hook_pos_embed');
    for (let t = 0; t < T; t++)
      for (let i = 0; i < D; i++) {
        expect(embed[t * D + i]).toBe(wte[tokens[t] * D + i]);
        expect(pos[t * D + i]).toBe(wpe[t * D + i]);
      }
  });

  it('resid_pre = embed + pos_embed; resid_mid = resid_pre + attn_out; resid_post = resid_mid + mlp_out', () => {
    const e = act(cache, 'hook_embed');
    const p = act(cache, 'hook_pos_embed');
    expect(maxAbsDiff(act(cache, 'blocks.0.hook_resid_pre'), e.map((x, i) => x + p[i]))).toBe(0);
    for (let l = 0; l < cfg.nLayers; l++) {
      const pre = act(cache, `blocks.${l}.hook_resid_pre`);
      const attn = act(cache, `blocks.${l}.hook_attn_out`);
      const mid = act(cache, `blocks.${l}.hook_resid_mid`);
      const mlp = act(cache, `blocks.${l}.hook_mlp_out`);
      const post = act(cache, `blocks.${l}.hook_resid_post`);
      expect(maxAbsDiff(mid, pre.map((x, i) => x + attn[i]))).toBe(0);
      expect(maxAbsDiff(post, mid.map((x, i) => x + mlp[i]))).toBe(0);
      if (l + 1 < cfg.nLayers) expect(act(cache, `blocks.${l + 1}.hook_resid_pre`)).toEqual(post);
    }
  });
});

describe('LayerNorm hooks', () => {
  // [TransformerLens prefix, input hook, Hugging Face prefix]
  const lns: [string, string, string][] = [];
  for (let l = 0; l < cfg.nLayers; l++)
    lns.push(
      [`blocks.${l}.ln1`, `blocks.${l}.hook_resid_pre`, `h.${l}.ln_1`],
      [`blocks.${l}.ln2`, `blocks.${l}.hook_resid_mid`, `h.${l}.ln_2`],
    );
  lns.push(['ln_final', `blocks.${cfg.nLayers - 1}.hook_resid_post`, 'ln_f']);

  it.each(lns)('%s: scale = sqrt(var + eps); hook_normalized = x_c / scale * w + b, the LN output', (ln, input, hf) => {
    const x = act(cache, input);
    const g = w64(hf + '.weight');
    const beta = w64(hf + '.bias');
    const scale = act(cache, ln + '.hook_scale');
    const out = act(cache, ln + '.hook_normalized');
    for (let t = 0; t < T; t++) {
      const row = x.subarray(t * D, (t + 1) * D);
      const mean = row.reduce((a, b) => a + b, 0) / D;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / D;
      expect(scale[t]).toBeCloseTo(Math.sqrt(variance + eps), 12);
      // Undo w and b: what is left has mean 0 and mean square var / (var + eps).
      const n = Array.from({ length: D }, (_, i) => (out[t * D + i] - beta[i]) / g[i]);
      expect(Math.abs(n.reduce((a, b) => a + b, 0) / D)).toBeLessThan(1e-13);
      expect(n.reduce((a, b) => a + b * b, 0) / D).toBeCloseTo(variance / (variance + eps), 12);
      expect(n.reduce((a, b) => a + b * b, 0) / D).toBeGreaterThan(0.99); // eps is small against O(1) variance
      for (let i = 0; i < D; i++) expect(n[i] * scale[t]).toBeCloseTo(row[i] - mean, 12);
    }
  });
});

describe('attention', () => {
  it('scores are causal-masked with -inf; pattern rows are causal and sum to 1', () => {
    for (let l = 0; l < cfg.nLayers; l++) {
      const scores = act(cache, `blocks.${l}.attn.hook_attn_scores`);
      const pattern = act(cache, `blocks.${l}.attn.hook_pattern`);
      for (let h = 0; h < H; h++)
        for (let q = 0; q < T; q++) {
          let sum = 0;
          for (let k = 0; k < T; k++) {
            const i = (h * T + q) * T + k;
            if (k > q) {
              expect(scores[i]).toBe(-Infinity);
              expect(pattern[i]).toBe(0);
            } else {
              expect(Number.isFinite(scores[i])).toBe(true);
              expect(pattern[i]).toBeGreaterThan(0);
            }
            sum += pattern[i];
          }
          expect(sum).toBeCloseTo(1, 14);
        }
    }
  });

  it('q, k, v, scores, pattern, z and attn_out follow the TransformerLens per-head definitions', () => {
    for (let l = 0; l < cfg.nLayers; l++) {
      const b = `blocks.${l}.`;
      const ln1 = act(cache, b + 'ln1.hook_normalized'); // the LN output, input to W_Q, W_K, W_V
      const cAttnW = w64(`h.${l}.attn.c_attn.weight`); // [d_model, 3 * d_model]
      const cAttnB = w64(`h.${l}.attn.c_attn.bias`);
      const cProjW = w64(`h.${l}.attn.c_proj.weight`); // [d_model, d_model]
      const cProjB = w64(`h.${l}.attn.c_proj.bias`);
      const q = act(cache, b + 'attn.hook_q');
      const k = act(cache, b + 'attn.hook_k');
      const v = act(cache, b + 'attn.hook_v');
      const pattern = act(cache, b + 'attn.hook_pattern');
      const scores = act(cache, b + 'attn.hook_attn_scores');
      const z = act(cache, b + 'attn.hook_z');
      // W_Q[h, m, e] = c_attn.weight[m, 0 * d_model + h * d_head + e], likewise K (1) and V (2); b likewise.
      const proj = (which: number, t: number, h: number, e: number) => {
        let s = cAttnB[which * D + h * dh + e];
        for (let m = 0; m < D; m++) s += ln1[t * D + m] * cAttnW[m * 3 * D + which * D + h * dh + e];
        return s;
      };
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++)
          for (let e = 0; e < dh; e++) {
            const i = (t * H + h) * dh + e;
            expect(q[i]).toBeCloseTo(proj(0, t, h, e), 12);
            expect(k[i]).toBeCloseTo(proj(1, t, h, e), 12);
            expect(v[i]).toBeCloseTo(proj(2, t, h, e), 12);
          }
      for (let h = 0; h < H; h++)
        for (let qp = 0; qp < T; qp++) {
          const row: number[] = [];
          for (let kp = 0; kp <= qp; kp++) {
            let s = 0;
            for (let e = 0; e < dh; e++) s += q[(qp * H + h) * dh + e] * k[(kp * H + h) * dh + e];
            row.push(s / Math.sqrt(dh));
            expect(scores[(h * T + qp) * T + kp]).toBeCloseTo(s / Math.sqrt(dh), 12);
          }
          const m = Math.max(...row);
          const total = row.reduce((a, x) => a + Math.exp(x - m), 0);
          for (let kp = 0; kp <= qp; kp++)
            expect(pattern[(h * T + qp) * T + kp]).toBeCloseTo(Math.exp(row[kp] - m) / total, 14);
          for (let e = 0; e < dh; e++) {
            let s = 0;
            for (let kp = 0; kp <= qp; kp++) s += pattern[(h * T + qp) * T + kp] * v[(kp * H + h) * dh + e];
            expect(z[(qp * H + h) * dh + e]).toBeCloseTo(s, 12);
          }
        }
      // attn_out = sum_h z[:, h, :] @ W_O[h] + b_O, W_O[h, e, m] = c_proj.weight[h * d_head + e, m].
      const attnOut = act(cache, b + 'hook_attn_out');
      for (let t = 0; t < T; t++)
        for (let m = 0; m < D; m++) {
          let s = cProjB[m];
          for (let h = 0; h < H; h++)
            for (let e = 0; e < dh; e++) s += z[(t * H + h) * dh + e] * cProjW[(h * dh + e) * D + m];
          expect(attnOut[t * D + m]).toBeCloseTo(s, 12);
        }
    }
  });

  it('a sequence of one token attends only to itself: pattern is 1 and z = v', () => {
    const one = referenceForward(cfg, weights, [tokens[0]]).cache;
    for (let l = 0; l < cfg.nLayers; l++) {
      expect(Array.from(act(one, `blocks.${l}.attn.hook_pattern`))).toEqual(new Array(H).fill(1));
      expect(act(one, `blocks.${l}.attn.hook_z`)).toEqual(act(one, `blocks.${l}.attn.hook_v`));
    }
  });

  it('heads own their c_attn columns: zeroing head 0 of W_Q, W_K, b_Q, b_K makes only its pattern uniform', () => {
    const edited: Weights = new Map(weights);
    for (const l of [0, 1, 2]) {
      const wName = `h.${l}.attn.c_attn.weight`;
      const bName = `h.${l}.attn.c_attn.bias`;
      const W = weights.get(wName)!.data.slice();
      const bias = weights.get(bName)!.data.slice();
      for (const part of [0, 1]) // q, k
        for (let e = 0; e < dh; e++) {
          bias[part * D + e] = 0;
          for (let m = 0; m < D; m++) W[m * 3 * D + part * D + e] = 0;
        }
      edited.set(wName, { shape: [D, 3 * D], data: W });
      edited.set(bName, { shape: [3 * D], data: bias });
    }
    const c = referenceForward(cfg, edited, tokens).cache;
    for (let l = 0; l < cfg.nLayers; l++) {
      const pattern = act(c, `blocks.${l}.attn.hook_pattern`);
      for (let q = 0; q < T; q++)
        for (let k = 0; k <= q; k++) expect(pattern[q * T + k]).toBeCloseTo(1 / (q + 1), 14); // head 0
      expect(Math.abs(pattern[1 * T * T + (T - 1) * T] - 1 / T)).toBeGreaterThan(1e-3); // head 1 still selective
    }
  });
});

describe('MLP and unembedding', () => {
  it('gelu_new at known values', () => {
    expect(geluNew(1)).toBeCloseTo(0.8411919906082768, 15);
    expect(geluNew(0)).toBe(0);
    for (const x of [0.3, 1, 2.5, 7]) expect(geluNew(x) - geluNew(-x)).toBeCloseTo(x, 14); // odd part is x / 2
    expect(geluNew(-30)).toBeCloseTo(0, 14);
    expect(geluNew(30)).toBeCloseTo(30, 12);
  });

  it('pre = ln2 @ W_in + b_in; post = gelu_new(pre); mlp_out = post @ W_out + b_out', () => {
    for (let l = 0; l < cfg.nLayers; l++) {
      const b = `blocks.${l}.`;
      const ln2 = act(cache, b + 'ln2.hook_normalized');
      const pre = act(cache, b + 'mlp.hook_pre');
      const post = act(cache, b + 'mlp.hook_post');
      const W_in = w64(`h.${l}.mlp.c_fc.weight`);
      const W_out = w64(`h.${l}.mlp.c_proj.weight`);
      expect(maxAbsDiff(pre, matmul(ln2, T, D, dMlp, W_in, w64(`h.${l}.mlp.c_fc.bias`)))).toBeLessThan(1e-13);
      expect(maxAbsDiff(post, pre.map(geluNew))).toBe(0);
      const mlpOut = matmul(post, T, dMlp, D, W_out, w64(`h.${l}.mlp.c_proj.bias`));
      expect(maxAbsDiff(act(cache, b + 'hook_mlp_out'), mlpOut)).toBeLessThan(1e-13);
    }
  });

  it('logits = ln_final.hook_normalized (the LN output) @ W_E^T, no bias', () => {
    const wte = w64('wte.weight');
    const out = act(cache, 'ln_final.hook_normalized');
    const W_U = new Float64Array(D * dVocab); // [d_model, d_vocab]
    for (let vi = 0; vi < dVocab; vi++) for (let i = 0; i < D; i++) W_U[i * dVocab + vi] = wte[vi * D + i];
    expect(maxAbsDiff(base.logits, matmul(out, T, D, dVocab, W_U))).toBeLessThan(1e-12);
  });
});

describe('independent facts', () => {
  it('is causal: a prefix of the prompt gives the same activations at its positions', () => {
    const k = 5;
    const prefix = referenceForward(cfg, weights, tokens.slice(0, k));
    for (const [name, a] of prefix.cache) {
      const full = act(cache, name);
      if (name.endsWith('hook_attn_scores') || name.endsWith('hook_pattern')) {
        for (let h = 0; h < H; h++)
          for (let q = 0; q < k; q++)
            for (let kp = 0; kp < k; kp++)
              expect(a.data[(h * k + q) * k + kp]).toBeCloseTo(full[(h * T + q) * T + kp], 12);
      } else {
        expect(maxAbsDiff(a.data, full.subarray(0, a.data.length)), name).toBeLessThan(1e-12);
      }
    }
    expect(maxAbsDiff(prefix.logits, base.logits.subarray(0, k * dVocab))).toBeLessThan(1e-12);
  });

  it('with attention and MLP weights zeroed, resid_mid = resid_pre + causal mean of ln1 (W_V = W_O = I)', () => {
    const edited: Weights = new Map(weights);
    const set = (name: string, f: (i: number) => number) => {
      const t = weights.get(name)!;
      edited.set(name, { shape: t.shape, data: Float32Array.from({ length: t.data.length }, (_, i) => f(i)) });
    };
    set('h.0.attn.c_attn.weight', (i) => {
      const [m, j] = [Math.floor(i / (3 * D)), i % (3 * D)];
      return j >= 2 * D && j - 2 * D === m ? 1 : 0; // q = k = 0, v = identity
    });
    set('h.0.attn.c_attn.bias', () => 0);
    set('h.0.attn.c_proj.weight', (i) => (Math.floor(i / D) === i % D ? 1 : 0));
    set('h.0.attn.c_proj.bias', () => 0);
    const c = referenceForward(cfg, edited, tokens).cache;
    const x = act(c, 'blocks.0.hook_resid_pre');
    const g = w64('h.0.ln_1.weight');
    const beta = w64('h.0.ln_1.bias');
    const ln1 = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      const row = x.subarray(t * D, (t + 1) * D);
      const mean = row.reduce((a, b) => a + b, 0) / D;
      const sd = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / D + eps);
      for (let i = 0; i < D; i++) ln1[t * D + i] = ((row[i] - mean) / sd) * g[i] + beta[i];
    }
    const mid = act(c, 'blocks.0.hook_resid_mid');
    for (let t = 0; t < T; t++)
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let k = 0; k <= t; k++) s += ln1[k * D + i];
        expect(mid[t * D + i]).toBeCloseTo(x[t * D + i] + s / (t + 1), 12);
      }
  });
});

describe('hooks', () => {
  it('replacing every hook with a copy of its own value changes nothing', () => {
    const hooks = Object.fromEntries(hookNames(cfg).map((n) => [n, (v: Float64Array) => v.slice()]));
    const again = referenceForward(cfg, weights, tokens, { hooks });
    expect(again.logits).toEqual(base.logits);
    for (const [name, a] of again.cache) expect(a.data, name).toEqual(act(cache, name));
  });

  it('a replacement is recorded and used downstream', () => {
    const zeros = new Float64Array(T * D);
    const r = referenceForward(cfg, weights, tokens, { hooks: { 'blocks.0.hook_resid_post': () => zeros } });
    expect(act(r.cache, 'blocks.0.hook_resid_post')).toBe(zeros);
    expect(act(r.cache, 'blocks.1.hook_resid_pre')).toEqual(zeros);
    expect(act(r.cache, 'hook_embed')).toEqual(act(cache, 'hook_embed')); // upstream untouched
    expect(maxAbsDiff(r.logits, base.logits)).toBeGreaterThan(1e-3);
  });

  it('a replaced hook_scale divides the centred input: normalized = x_c / replaced scale * w + b', () => {
    const doubled = (v: Float64Array) => v.map((s) => 2 * s);
    const r = referenceForward(cfg, weights, tokens, { hooks: { 'ln_final.hook_scale': doubled } });
    expect(act(r.cache, 'ln_final.hook_scale')).toEqual(doubled(act(cache, 'ln_final.hook_scale')));
    const beta = w64('ln_f.bias');
    const half = act(cache, 'ln_final.hook_normalized').map((x, i) => (x - beta[i % D]) / 2 + beta[i % D]);
    expect(maxAbsDiff(act(r.cache, 'ln_final.hook_normalized'), half)).toBeLessThan(1e-14);
  });

  it('a replaced pattern drives z: uniform causal attention gives the running mean of v', () => {
    const uniform = new Float64Array(H * T * T);
    for (let h = 0; h < H; h++)
      for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) uniform[(h * T + q) * T + k] = 1 / (q + 1);
    const r = referenceForward(cfg, weights, tokens, { hooks: { 'blocks.1.attn.hook_pattern': () => uniform } });
    const v = act(r.cache, 'blocks.1.attn.hook_v');
    const z = act(r.cache, 'blocks.1.attn.hook_z');
    for (let q = 0; q < T; q++)
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let k = 0; k <= q; k++) s += v[k * D + j];
        expect(z[q * D + j]).toBeCloseTo(s / (q + 1), 13);
      }
  });

  it('a callback may also edit the value in place', () => {
    const r = referenceForward(cfg, weights, tokens, {
      hooks: { 'blocks.2.hook_mlp_out': (v) => void v.fill(0) },
    });
    expect(act(r.cache, 'blocks.2.hook_resid_post')).toEqual(act(r.cache, 'blocks.2.hook_resid_mid'));
  });

  it('sees the value and a copy of the shape', () => {
    let seen: number[] = [];
    referenceForward(cfg, weights, tokens, {
      hooks: {
        'blocks.0.attn.hook_q': (v, shape) => {
          seen = shape;
          shape[0] = -1; // must not corrupt the recorded shape
          expect(v).toEqual(act(cache, 'blocks.0.attn.hook_q'));
        },
      },
    });
    expect(seen).toEqual([-1, H, dh]);
  });

  it('rejects unknown hooks, wrong replacement sizes, bad tokens and bad weights', () => {
    expect(() => referenceForward(cfg, weights, tokens, { hooks: { 'blocks.0.hook_attn_pattern': () => {} } })).toThrow(
      /unknown hook/,
    );
    expect(() =>
      referenceForward(cfg, weights, tokens, { hooks: { 'blocks.0.hook_resid_pre': () => new Float64Array(3) } }),
    ).toThrow(/returned 3 values/);
    expect(() => referenceForward(cfg, weights, [0, dVocab])).toThrow(/token/);
    expect(() => referenceForward(cfg, weights, [])).toThrow(/sequence length/);
    expect(() => referenceForward(cfg, weights, new Array(cfg.nCtx + 1).fill(0))).toThrow(/sequence length/);
    const missing: Weights = new Map(weights);
    missing.delete('h.1.mlp.c_fc.bias');
    expect(() => referenceForward(cfg, missing, tokens)).toThrow(/missing weight h.1.mlp.c_fc.bias/);
    const wrong: Weights = new Map(weights);
    wrong.set('ln_f.bias', { shape: [D + 1], data: new Float32Array(D + 1) });
    expect(() => referenceForward(cfg, wrong, tokens)).toThrow(/ln_f.bias has shape/);
  });
});

describe('speed and caching', () => {
  it('converts weights once per Weights object', () => {
    const a = toFloat64Weights(cfg, weights);
    expect(toFloat64Weights(cfg, weights)).toBe(a);
    const copy: Weights = new Map(weights);
    const b = toFloat64Weights(cfg, copy);
    expect(b).not.toBe(a);
    expect(b.get('wte.weight')).toBe(a.get('wte.weight')); // unchanged tensors are shared, not converted again
  });

  it('a 3-layer d_model 16 model over 20 tokens runs in milliseconds', () => {
    const toks = randomTokens(cfg, 20, 3);
    for (let i = 0; i < 20; i++) referenceForward(cfg, weights, toks); // warm up the JIT
    const n = 100;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) referenceForward(cfg, weights, toks);
    const ms = (performance.now() - t0) / n;
    console.log(`reference forward, 3 layers, d_model 16, 20 tokens: ${ms.toFixed(3)} ms`);
    expect(ms).toBeLessThan(20); // generous: CI machines vary; typically well under 1 ms
  });
});

describe('independence', () => {
  it('the reference imports nothing from the engine but the shared types', () => {
    const dir = new URL('.', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const [, spec] of source.matchAll(/from\s+'([^']+)'/g))
        expect(spec === '../../src/engine/model/types' || spec.startsWith('./'), `${file} imports ${spec}`).toBe(true);
    }
  });
});
