// Independent float64 reference for GPT-2, used by tests to check the ONNX graphs.
//
// Plain loops over the Hugging Face weights, written from the TransformerLens source (unprocessed weights, as
// `from_pretrained_no_processing`: no LayerNorm folding, no centering, so LayerNorm is TL's `LayerNorm` class and
// its hook_normalized is the output after w and b). It deliberately shares no code with
// src/engine/graph or src/engine/model/gpt2.ts, so a convention mistake there cannot hide here.
//
// Every TransformerLens hook of ONE sequence (no batch axis) is recorded with its exact name and shape, and a hook
// callback may replace the value: the returned array is what the rest of the forward pass uses and what is recorded.

import { expectedWeightShapes, type GPT2Config, type Weights } from '../../src/engine/model/types';

/**
 * Sees a hook's value (row-major, `shape` is a copy). Returning an array of the same length replaces the value
 * downstream and in the cache; editing `value` in place does the same.
 */
export type HookFn = (value: Float64Array, shape: number[]) => Float64Array | void;

export interface ForwardOptions {
  /** Callbacks by exact TransformerLens hook name, e.g. `blocks.3.attn.hook_z`. Unknown names throw. */
  hooks?: Record<string, HookFn>;
  /**
   * Unembed only these positions (the others' logits stay 0): a metric that reads only the final position then
   * costs one row of the 50257-token unembedding instead of every row (toy models with GPT-2's vocabulary).
   */
  logitPositions?: number[];
}

export interface Activation {
  shape: number[];
  data: Float64Array;
}

export interface ForwardResult {
  /** [pos, d_vocab] */
  logits: Float64Array;
  /** Every hook's value as used downstream (after any replacement), by TransformerLens name. */
  cache: Map<string, Activation>;
}

/** Float64 copies of the checkpoint tensors, by Hugging Face name. */
export type WeightsF64 = Map<string, Float64Array>;

// ---------------------------------------------------------------------------------------------------------------
// Hook names and shapes

/** Every hook the forward pass records, in the order they fire. */
export function hookNames(cfg: GPT2Config): string[] {
  const names = ['hook_embed', 'hook_pos_embed'];
  for (let l = 0; l < cfg.nLayers; l++) {
    const b = `blocks.${l}.`;
    names.push(
      b + 'hook_resid_pre',
      b + 'ln1.hook_scale',
      b + 'ln1.hook_normalized',
      b + 'attn.hook_q',
      b + 'attn.hook_k',
      b + 'attn.hook_v',
      b + 'attn.hook_attn_scores',
      b + 'attn.hook_pattern',
      b + 'attn.hook_z',
      b + 'hook_attn_out',
      b + 'hook_resid_mid',
      b + 'ln2.hook_scale',
      b + 'ln2.hook_normalized',
      b + 'mlp.hook_pre',
      b + 'mlp.hook_post',
      b + 'hook_mlp_out',
      b + 'hook_resid_post',
    );
  }
  names.push('ln_final.hook_scale', 'ln_final.hook_normalized');
  return names;
}

/** The TransformerLens shape of a hook for a sequence of `nPos` tokens (no batch axis). */
export function hookShape(cfg: GPT2Config, name: string, nPos: number): number[] {
  const { nHeads: H, dModel: D, dHead, dMlp } = cfg;
  if (!hookNames(cfg).includes(name)) throw new Error(`unknown hook ${name}`);
  const suffix = name.replace(/^blocks\.\d+\./, '');
  if (suffix.endsWith('hook_scale')) return [nPos, 1];
  switch (suffix) {
    case 'hook_embed':
    case 'hook_pos_embed':
    case 'hook_resid_pre':
    case 'hook_resid_mid':
    case 'hook_resid_post':
    case 'hook_attn_out':
    case 'hook_mlp_out':
    case 'ln1.hook_normalized':
    case 'ln2.hook_normalized':
    case 'ln_final.hook_normalized':
      return [nPos, D];
    case 'attn.hook_q':
    case 'attn.hook_k':
    case 'attn.hook_v':
    case 'attn.hook_z':
      return [nPos, H, dHead];
    case 'attn.hook_attn_scores':
    case 'attn.hook_pattern':
      return [H, nPos, nPos];
    case 'mlp.hook_pre':
    case 'mlp.hook_post':
      return [nPos, dMlp];
  }
  throw new Error(`no shape for hook ${name}`);
}

/** Row-major flat index of a multi-index into a tensor of `shape`. */
export function flatIndex(shape: number[], index: number[]): number {
  if (index.length !== shape.length) throw new Error(`index ${index} does not match shape ${shape}`);
  let flat = 0;
  for (let i = 0; i < shape.length; i++) {
    if (index[i] < 0 || index[i] >= shape[i]) throw new Error(`index ${index} out of range for shape ${shape}`);
    flat = flat * shape[i] + index[i];
  }
  return flat;
}

// ---------------------------------------------------------------------------------------------------------------
// Weights

// Converted once per Weights object; the per-tensor cache lets a Weights map that shares tensors with another
// (e.g. a copy with one tensor swapped) convert only what is new.
const modelCache = new WeakMap<Weights, WeightsF64>();
const tensorCache = new WeakMap<Float32Array, Float64Array>();

/** Checks names and shapes against the config and returns float64 copies (cached per Weights object). */
export function toFloat64Weights(cfg: GPT2Config, weights: Weights): WeightsF64 {
  const cached = modelCache.get(weights);
  if (cached) return cached;
  const out: WeightsF64 = new Map();
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i]))
      throw new Error(`weight ${name} has shape [${t.shape}], expected [${shape}]`);
    let data = tensorCache.get(t.data);
    if (!data) {
      data = Float64Array.from(t.data);
      tensorCache.set(t.data, data);
    }
    out.set(name, data);
  }
  modelCache.set(weights, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Primitive layers (pure, no hooks)

/** gelu_new, the tanh approximation GPT-2 uses. */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** out[t, :] = x[t, :] @ W + b, Conv1D layout: W is [nIn, nOut]. x is [T, nIn]; returns [T, nOut]. */
function linear(x: Float64Array, T: number, nIn: number, nOut: number, W: Float64Array, b: Float64Array | null) {
  const out = new Float64Array(T * nOut);
  for (let t = 0; t < T; t++) {
    const o = t * nOut;
    if (b) out.set(b, o);
    for (let i = 0; i < nIn; i++) {
      const xi = x[t * nIn + i];
      const w = i * nOut;
      for (let j = 0; j < nOut; j++) out[o + j] += xi * W[w + j];
    }
  }
  return out;
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Forward

/** GPT-2 forward pass over one sequence in float64, recording (and letting callbacks replace) every hook. */
export function referenceForward(
  cfg: GPT2Config,
  weights: Weights,
  tokens: number[],
  opts: ForwardOptions = {},
): ForwardResult {
  return referenceForwardF64(cfg, toFloat64Weights(cfg, weights), tokens, opts);
}

/** As referenceForward, on weights already converted by toFloat64Weights (or perturbed copies of them). */
export function referenceForwardF64(
  cfg: GPT2Config,
  w: WeightsF64,
  tokens: number[],
  opts: ForwardOptions = {},
): ForwardResult {
  const { nLayers, nHeads: H, dModel: D, dHead: dh, dMlp, dVocab, nCtx, layerNormEps: eps } = cfg;
  const T = tokens.length;
  if (H * dh !== D) throw new Error(`nHeads * dHead = ${H * dh} != dModel = ${D}`);
  if (T < 1 || T > nCtx) throw new Error(`sequence length ${T} outside 1..${nCtx}`);
  for (const tok of tokens)
    if (!Number.isInteger(tok) || tok < 0 || tok >= dVocab) throw new Error(`token ${tok} outside 0..${dVocab - 1}`);

  const hooks = opts.hooks ?? {};
  const known = new Set(hookNames(cfg));
  for (const name of Object.keys(hooks)) if (!known.has(name)) throw new Error(`unknown hook ${name}`);

  const cache = new Map<string, Activation>();
  const hook = (name: string, shape: number[], value: Float64Array): Float64Array => {
    const fn = hooks[name];
    if (fn) {
      const replaced = fn(value, shape.slice());
      if (replaced) {
        if (replaced.length !== value.length)
          throw new Error(`hook ${name} returned ${replaced.length} values, expected ${value.length} [${shape}]`);
        value = replaced;
      }
    }
    cache.set(name, { shape, data: value });
    return value;
  };
  const get = (name: string): Float64Array => {
    const t = w.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    return t;
  };

  // TransformerLens LayerNorm (components/layer_norm.py, the class used with unprocessed weights):
  //   x_c = x - mean(x); scale = sqrt(mean(x_c^2) + eps)   -> hook_scale [pos, 1]
  //   out = x_c / scale * w + b                            -> hook_normalized [pos, d_model]
  // hook_normalized is the LN OUTPUT, after w and b. Only with folded weights (LayerNormPre, w = 1, b = 0) is it
  // x_c / scale. A replaced scale is what x_c is divided by, which is how gradients w.r.t. hook_scale are defined.
  const layerNorm = (prefix: string, x: Float64Array, gamma: Float64Array, beta: Float64Array): Float64Array => {
    const xc = new Float64Array(T * D);
    let scale: Float64Array = new Float64Array(T); // [pos, 1]
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[t * D + i];
      mean /= D;
      let ms = 0;
      for (let i = 0; i < D; i++) {
        const c = x[t * D + i] - mean;
        xc[t * D + i] = c;
        ms += c * c;
      }
      scale[t] = Math.sqrt(ms / D + eps);
    }
    scale = hook(prefix + '.hook_scale', [T, 1], scale);
    const out = new Float64Array(T * D); // [pos, d_model]
    for (let t = 0; t < T; t++)
      for (let i = 0; i < D; i++) out[t * D + i] = (xc[t * D + i] / scale[t]) * gamma[i] + beta[i];
    return hook(prefix + '.hook_normalized', [T, D], out);
  };

  // Embeddings.
  const wte = get('wte.weight'); // [d_vocab, d_model]
  const wpe = get('wpe.weight'); // [n_ctx, d_model]
  let embed: Float64Array = new Float64Array(T * D);
  let posEmbed: Float64Array = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    embed.set(wte.subarray(tokens[t] * D, (tokens[t] + 1) * D), t * D);
    posEmbed.set(wpe.subarray(t * D, (t + 1) * D), t * D);
  }
  embed = hook('hook_embed', [T, D], embed);
  posEmbed = hook('hook_pos_embed', [T, D], posEmbed);
  let resid: Float64Array = add(embed, posEmbed); // [pos, d_model]

  const scaleQK = 1 / Math.sqrt(dh);
  for (let l = 0; l < nLayers; l++) {
    const b = `blocks.${l}.`;
    const p = `h.${l}.`;
    resid = hook(b + 'hook_resid_pre', [T, D], resid);

    // Attention. c_attn output [pos, 3 * d_model] is q | k | v; within each, head h owns columns h*dh..(h+1)*dh,
    // so each third read as [pos, d_model] is already [pos, head_index, d_head].
    const ln1 = layerNorm(b + 'ln1', resid, get(p + 'ln_1.weight'), get(p + 'ln_1.bias'));
    const qkv = linear(ln1, T, D, 3 * D, get(p + 'attn.c_attn.weight'), get(p + 'attn.c_attn.bias'));
    let q: Float64Array = new Float64Array(T * D); // [pos, head_index, d_head]
    let k: Float64Array = new Float64Array(T * D);
    let v: Float64Array = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      q.set(qkv.subarray(t * 3 * D, t * 3 * D + D), t * D);
      k.set(qkv.subarray(t * 3 * D + D, t * 3 * D + 2 * D), t * D);
      v.set(qkv.subarray(t * 3 * D + 2 * D, t * 3 * D + 3 * D), t * D);
    }
    q = hook(b + 'attn.hook_q', [T, H, dh], q);
    k = hook(b + 'attn.hook_k', [T, H, dh], k);
    v = hook(b + 'attn.hook_v', [T, H, dh], v);

    let scores: Float64Array = new Float64Array(H * T * T); // [head_index, query_pos, key_pos]
    for (let h = 0; h < H; h++)
      for (let qi = 0; qi < T; qi++)
        for (let ki = 0; ki < T; ki++) {
          let s = -Infinity; // causal mask, as TransformerLens: masked scores are -inf in hook_attn_scores
          if (ki <= qi) {
            s = 0;
            for (let e = 0; e < dh; e++) s += q[qi * D + h * dh + e] * k[ki * D + h * dh + e];
            s *= scaleQK;
          }
          scores[(h * T + qi) * T + ki] = s;
        }
    scores = hook(b + 'attn.hook_attn_scores', [H, T, T], scores);

    // Softmax over key_pos of whatever the scores now are (a replaced finite score above the diagonal counts, as in
    // TransformerLens); an all -inf row gives 0, as TransformerLens's nan -> 0.
    let pattern: Float64Array = new Float64Array(H * T * T); // [head_index, query_pos, key_pos]
    for (let row = 0; row < H * T; row++) {
      const o = row * T;
      let max = -Infinity;
      for (let ki = 0; ki < T; ki++) max = Math.max(max, scores[o + ki]);
      if (max === -Infinity) continue;
      let sum = 0;
      for (let ki = 0; ki < T; ki++) sum += pattern[o + ki] = Math.exp(scores[o + ki] - max);
      for (let ki = 0; ki < T; ki++) pattern[o + ki] /= sum;
    }
    pattern = hook(b + 'attn.hook_pattern', [H, T, T], pattern);

    // z[q, h, :] = sum over every key_pos of pattern[h, q, k] * v[k, h, :] (masked entries are 0 unless replaced).
    let z: Float64Array = new Float64Array(T * D); // [pos, head_index, d_head]
    for (let h = 0; h < H; h++)
      for (let qi = 0; qi < T; qi++)
        for (let ki = 0; ki < T; ki++) {
          const a = pattern[(h * T + qi) * T + ki];
          for (let e = 0; e < dh; e++) z[qi * D + h * dh + e] += a * v[ki * D + h * dh + e];
        }
    z = hook(b + 'attn.hook_z', [T, H, dh], z);

    // z flattened [pos, head_index * d_head] (head-major) @ c_proj.
    let attnOut: Float64Array = linear(z, T, D, D, get(p + 'attn.c_proj.weight'), get(p + 'attn.c_proj.bias'));
    attnOut = hook(b + 'hook_attn_out', [T, D], attnOut);
    resid = hook(b + 'hook_resid_mid', [T, D], add(resid, attnOut));

    // MLP.
    const ln2 = layerNorm(b + 'ln2', resid, get(p + 'ln_2.weight'), get(p + 'ln_2.bias'));
    // [pos, d_mlp]
    let pre: Float64Array = linear(ln2, T, D, dMlp, get(p + 'mlp.c_fc.weight'), get(p + 'mlp.c_fc.bias'));
    pre = hook(b + 'mlp.hook_pre', [T, dMlp], pre);
    let post: Float64Array = new Float64Array(T * dMlp);
    for (let i = 0; i < post.length; i++) post[i] = geluNew(pre[i]);
    post = hook(b + 'mlp.hook_post', [T, dMlp], post);
    let mlpOut: Float64Array = linear(post, T, dMlp, D, get(p + 'mlp.c_proj.weight'), get(p + 'mlp.c_proj.bias'));
    mlpOut = hook(b + 'hook_mlp_out', [T, D], mlpOut);
    resid = hook(b + 'hook_resid_post', [T, D], add(resid, mlpOut));
  }

  // Final LayerNorm and tied unembedding: logits[t, v] = lnf[t, :] . wte[v, :] (no bias).
  const lnf = layerNorm('ln_final', resid, get('ln_f.weight'), get('ln_f.bias'));
  const logits = new Float64Array(T * dVocab); // [pos, d_vocab]
  for (const t of opts.logitPositions ?? Array.from({ length: T }, (_, i) => i))
    for (let vi = 0; vi < dVocab; vi++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += lnf[t * D + i] * wte[vi * D + i];
      logits[t * dVocab + vi] = s;
    }
  return { logits, cache };
}
