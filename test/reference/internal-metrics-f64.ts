// Independent float64 reference for the metrics on internal activations (issue 13): their values from a reference
// forward's cache, exact patches, attribution (AtP: the directional derivative of the metric along the patch's
// change, by central differences on the hook's value) and which hooks are upstream. Written from the definitions
// in the issue and TransformerLens (pattern [head, query, key]; apply_ln_to_stack with a cached scale), sharing no
// code with src/engine/patching.

import type { GPT2Config, Weights } from '../../src/engine/model/types';
import { referenceForwardF64, toFloat64Weights, type Activation, type WeightsF64 } from './gpt2-f64';

export type RefSite =
  | { kind: 'attn'; layer: number; head: number; query: number; key: number }
  | { kind: 'prefix'; layer: number; head: number }
  | { kind: 'neuron'; layer: number; pos: number; neuron: number }
  | { kind: 'dla'; layer: number; head: number };

export type Cache = Map<string, Activation>;
export type RefMetric = (cache: Cache) => number;

/**
 * The metric for one pair as a function of a run's cache. `clean` fixes prefix's key sets and dla's ln_final scale
 * (both from the clean prompt / run); answer and wrong (-1: none) are dla's.
 */
export function refInternalMetric(cfg: GPT2Config, w: WeightsF64, site: RefSite, clean: number[], answer = -1, wrong = -1): RefMetric {
  const { nHeads: H, dHead: dh, dModel: D, dMlp } = cfg;
  const T = clean.length;
  const get = (cache: Cache, name: string) => {
    const a = cache.get(name);
    if (!a) throw new Error(`reference: no ${name} in the cache`);
    return a.data;
  };
  switch (site.kind) {
    case 'attn':
      return (c) => get(c, `blocks.${site.layer}.attn.hook_pattern`)[(site.head * T + site.query) * T + site.key];
    case 'neuron':
      return (c) => get(c, `blocks.${site.layer}.mlp.hook_post`)[site.pos * dMlp + site.neuron];
    case 'prefix': {
      // Queries i with keys j (1 <= j <= i) whose previous clean token equals clean token i.
      const keys: number[][] = [];
      for (let i = 0; i < T; i++) {
        const js: number[] = [];
        for (let j = 1; j <= i; j++) if (clean[j - 1] === clean[i]) js.push(j);
        if (js.length) keys.push([i, ...js]);
      }
      if (!keys.length) throw new Error('reference: the clean prompt repeats no token');
      return (c) => {
        const p = get(c, `blocks.${site.layer}.attn.hook_pattern`);
        let total = 0;
        for (const [i, ...js] of keys) for (const j of js) total += p[(site.head * T + i) * T + j];
        return total / keys.length;
      };
    }
    case 'dla': {
      const scale = get(referenceForwardF64(cfg, w, clean).cache, 'ln_final.hook_scale')[T - 1]; // [pos, 1]
      const WO = w.get(`h.${site.layer}.attn.c_proj.weight`)!; // [d_model (head_index x d_head), d_model]
      const WE = w.get('wte.weight')!; // [d_vocab, d_model]
      const g = w.get('ln_f.weight')!;
      const dir = new Float64Array(D);
      for (let m = 0; m < D; m++) dir[m] = g[m] * (WE[answer * D + m] - (wrong >= 0 ? WE[wrong * D + m] : 0));
      return (c) => {
        const z = get(c, `blocks.${site.layer}.attn.hook_z`); // [pos, head_index, d_head]
        const out = new Float64Array(D);
        for (let d = 0; d < dh; d++) {
          const zv = z[((T - 1) * H + site.head) * dh + d];
          for (let m = 0; m < D; m++) out[m] += zv * WO[(site.head * dh + d) * D + m];
        }
        let mean = 0;
        for (let m = 0; m < D; m++) mean += out[m] / D;
        let s = 0;
        for (let m = 0; m < D; m++) s += ((out[m] - mean) / scale) * dir[m];
        return s;
      };
    }
  }
}

/** The metric of a run, with `hook`'s entries in `entries` replaced by `values` (flat, the hook's layout) if given. */
export function refRun(cfg: GPT2Config, w: WeightsF64, tokens: number[], metric: RefMetric, patch?: { hook: string; entries: number[]; values: Float64Array; scale?: number; base?: Float64Array }): number {
  const hooks = patch ? {
    [patch.hook]: (v: Float64Array) => {
      const out = v.slice();
      for (const i of patch.entries) out[i] = patch.values[i];
      return out;
    },
  } : {};
  return metric(referenceForwardF64(cfg, w, tokens, { hooks }).cache);
}

/** The hook value of a run. */
export function refHook(cfg: GPT2Config, w: WeightsF64, tokens: number[], hook: string): Float64Array {
  return referenceForwardF64(cfg, w, tokens).cache.get(hook)!.data;
}

/** Exact patch: metric(base with the entries from source) - metric(base). */
export function refPatch(cfg: GPT2Config, w: WeightsF64, base: number[], source: number[], hook: string, entries: number[], metric: RefMetric): number {
  const values = refHook(cfg, w, source, hook);
  return refRun(cfg, w, base, metric, { hook, entries, values }) - refRun(cfg, w, base, metric);
}

/**
 * AtP: sum over entries of (source - base) * dM/d(base entry) = the derivative of M(base + e * delta on the entries)
 * at e = 0, by central differences (float64: error ~ eps^2).
 */
export function refAtp(cfg: GPT2Config, w: WeightsF64, base: number[], source: number[], hook: string, entries: number[], metric: RefMetric, eps = 1e-4): number {
  const b = refHook(cfg, w, base, hook);
  const s = refHook(cfg, w, source, hook);
  const at = (e: number) => {
    const values = b.slice();
    for (const i of entries) values[i] = b[i] + e * (s[i] - b[i]);
    return refRun(cfg, w, base, metric, { hook, entries, values });
  };
  return (at(eps) - at(-eps)) / (2 * eps);
}

/**
 * Whether a hook can change the metric: written from GPT-2's forward order (TransformerLens block), by hand. The
 * metric's own hook and everything computed after it are not upstream.
 */
export function refUpstream(site: RefSite, hook: string): boolean {
  const own = { attn: 'attn.hook_pattern', prefix: 'attn.hook_pattern', neuron: 'mlp.hook_post', dla: 'attn.hook_z' }[site.kind];
  const order = ['hook_resid_pre', 'attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_attn_scores', 'attn.hook_pattern', 'attn.hook_z',
    'hook_attn_out', 'hook_resid_mid', 'mlp.hook_pre', 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post'];
  const m = /^blocks\.(\d+)\.(.+)$/.exec(hook);
  if (!m) throw new Error(`reference: ${hook}`);
  const layer = Number(m[1]);
  if (layer !== site.layer) return layer < site.layer;
  const i = order.indexOf(m[2]);
  if (i < 0) throw new Error(`reference: hook ${hook} not in the order`);
  // q, k, v share a rank; they come before the scores.
  return i < order.indexOf(own);
}

export function refWeights(cfg: GPT2Config, weights: Weights): WeightsF64 {
  return toFloat64Weights(cfg, weights);
}

/** An EAP-IG sender's output [pos, d_model] from a run's cache: input (resid_pre 0), a{l}.h{h} (z @ W_O[h], no b_O), m{l}. */
function senderOutput(cfg: GPT2Config, w: WeightsF64, cache: Cache, sender: string, T: number): Float64Array {
  const { nHeads: H, dHead: dh, dModel: D } = cfg;
  if (sender === 'input') return cache.get('blocks.0.hook_resid_pre')!.data.slice();
  let m = /^m(\d+)$/.exec(sender);
  if (m) return cache.get(`blocks.${m[1]}.hook_mlp_out`)!.data.slice();
  m = /^a(\d+)\.h(\d+)$/.exec(sender);
  if (!m) throw new Error(`reference: sender ${sender}`);
  const [l, h] = [+m[1], +m[2]];
  const z = cache.get(`blocks.${l}.attn.hook_z`)!.data;
  const WO = w.get(`h.${l}.attn.c_proj.weight`)!;
  const out = new Float64Array(T * D);
  for (let p = 0; p < T; p++) for (let d = 0; d < dh; d++) for (let o = 0; o < D; o++) out[p * D + o] += z[(p * H + h) * dh + d] * WO[(h * dh + d) * D + o];
  return out;
}

/**
 * Direct path patch of the edge sender -> m{layer}: the base run in which only layer `layer`'s MLP reads
 * resid_mid + (sender[source] - sender[base]); ln_2 recomputed here on that input. Returns metric - metric(base).
 */
export function refPathPatchMlp(cfg: GPT2Config, w: WeightsF64, base: number[], source: number[], sender: string, layer: number, metric: RefMetric): number {
  const { dModel: D, layerNormEps: eps } = cfg;
  const T = base.length;
  const b = referenceForwardF64(cfg, w, base).cache;
  const s = referenceForwardF64(cfg, w, source).cache;
  const delta = senderOutput(cfg, w, s, sender, T).map((x, i) => x - senderOutput(cfg, w, b, sender, T)[i]);
  const mid = b.get(`blocks.${layer}.hook_resid_mid`)!.data;
  const g = w.get(`h.${layer}.ln_2.weight`)!;
  const beta = w.get(`h.${layer}.ln_2.bias`)!;
  const normalized = new Float64Array(T * D);
  for (let p = 0; p < T; p++) {
    const x = Array.from({ length: D }, (_, i) => mid[p * D + i] + delta[p * D + i]);
    const mean = x.reduce((a, v) => a + v, 0) / D;
    const scale = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / D + eps);
    for (let i = 0; i < D; i++) normalized[p * D + i] = ((x[i] - mean) / scale) * g[i] + beta[i];
  }
  const patched = metric(referenceForwardF64(cfg, w, base, { hooks: { [`blocks.${layer}.ln2.hook_normalized`]: () => normalized } }).cache);
  return patched - metric(b);
}

/**
 * Integrated gradients with m steps (alpha = k / m, k = 0..m-1), for one cell of `hook`:
 * (1/m) sum_k sum over the cell's entries of (source - base) * dM/dh at the run where `interpolated` (the hook
 * itself: ig-layer; blocks.0.hook_resid_pre: ig-inputs) is base + alpha (source - base) and the rest of the base run
 * is recomputed. Each term is a directional derivative, by central differences.
 */
export function refIg(cfg: GPT2Config, w: WeightsF64, base: number[], source: number[], hook: string, entries: number[], metric: RefMetric, m: number, interpolated: string, eps = 1e-4): number {
  const b = refHook(cfg, w, base, hook);
  const s = refHook(cfg, w, source, hook);
  const bi = refHook(cfg, w, base, interpolated);
  const si = refHook(cfg, w, source, interpolated);
  let total = 0;
  for (let k = 0; k < m; k++) {
    const alpha = k / m;
    const at = (e: number) => {
      const hooks: Record<string, (v: Float64Array) => Float64Array> = {};
      const interp = bi.map((x, i) => x + alpha * (si[i] - x));
      if (interpolated !== hook) hooks[interpolated] = () => interp.slice();
      hooks[hook] = (v) => {
        const out = interpolated === hook ? interp.slice() : v.slice();
        for (const i of entries) out[i] += e * (s[i] - b[i]);
        return out;
      };
      return metric(referenceForwardF64(cfg, w, base, { hooks }).cache);
    };
    total += (at(eps) - at(-eps)) / (2 * eps);
  }
  return total / m;
}
