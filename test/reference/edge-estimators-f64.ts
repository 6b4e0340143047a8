// Reference edge estimators (issue #12) on the per-receiver float64 forward of edges-f64.ts: directional finite
// differences of the metric along (a_u[source] - a_u[base]) in receiver v's input, under GradDrop's held senders or
// IG's interpolated embeddings; the QK fix recomputes a head's pattern from its moved query (key) input with plain
// loops (ln_1, W_Q/W_K of the checkpoint) and takes dM/dA from the float64 backward (backward-f64.ts). Nothing is imported
// from src/engine/patching.
import type { GPT2Config, Weights } from '../../src/engine/model/types';
import { edgeForward, receiverSenders, type EdgeMetric, type InputChooser } from './edges-f64';
import { logitDiffTerms, referenceBackwardF64 } from './backward-f64';
import { toFloat64Weights, type WeightsF64 } from './gpt2-f64';

export interface EdgePair {
  base: number[];
  source: number[];
  answer: number;
  wrong: number;
}

const EPS = 1e-3;
const sub = (a: Float64Array, b: Float64Array) => a.map((x, i) => x - b[i]);

/** The senders of layer l (its heads and its MLP): GradDrop's pass l holds them at their unperturbed values. */
const layerSenders = (cfg: GPT2Config, l: number) => [...Array.from({ length: cfg.nHeads }, (_, h) => `a${l}.h${h}`), `m${l}`];

interface Setting {
  /** Embedding interpolation alpha (IG on the inputs), or none. */
  alpha?: number;
  /** GradDrop pass: the layer whose senders are held. */
  drop?: number;
}

/** Every edge's directional derivative for one pair under a setting: Map "u->v" -> value. */
function edgeDerivativesFD(cfg: GPT2Config, w: WeightsF64, pair: EdgePair, s: Setting): Map<string, number> {
  const metric: EdgeMetric = (l) => l.at(pair.answer) - l.at(pair.wrong);
  const plainBase = edgeForward(cfg, w, pair.base, metric);
  const plainSource = edgeForward(cfg, w, pair.source, metric);
  const dInput = sub(plainSource.senders.get('input')!, plainBase.senders.get('input')!);
  // The edited base run (interpolated embeddings): every receiver reads input moved by alpha * dInput.
  const interp: InputChooser = (_r, standard) => (s.alpha ? standard.map((x, i) => x + s.alpha! * dInput[i]) : standard);
  const unperturbed = edgeForward(cfg, w, pair.base, metric, { choose: interp });
  const held = s.drop === undefined ? [] : layerSenders(cfg, s.drop);
  const out = new Map<string, number>();
  for (const [receiver, ups] of receiverSenders(cfg)) {
    for (const u of ups) {
      const dir = sub(plainSource.senders.get(u)!, plainBase.senders.get(u)!);
      const run = (sign: number) =>
        edgeForward(cfg, w, pair.base, metric, {
          choose: (r, standard, senders, bias) => {
            let x = interp(r, standard, senders, bias);
            // Held senders: whatever they became in this run, receivers read their unperturbed values.
            for (const h of held)
              if (senders.has(h)) {
                const [now, was] = [senders.get(h)!, unperturbed.senders.get(h)!];
                x = x.map((v, i) => v - now[i] + was[i]);
              }
            return r === receiver ? x.map((v, i) => v + sign * EPS * dir[i]) : x;
          },
        }).metric;
      out.set(`${u}->${receiver}`, (run(1) - run(-1)) / (2 * EPS));
    }
  }
  return out;
}

/**
 * The same derivatives from gradients (for the toy models, where per-edge finite differences take minutes): the
 * change of sender u dotted with dM/d(input of receiver v), that input gradient taken from the float64 backward
 * (backward-f64.ts, checked against finite differences) through the receiver's own LayerNorm and weights: head h's
 * columns of W_Q / W_K / W_V after ln_1, W_in after ln_2, the unembedding after ln_f. GradDrop's held senders are
 * held hooks (layer l's attn_out, the sum of its heads, and mlp_out); IG's interpolated input is an edited
 * blocks.0.hook_resid_pre (every receiver reads the input sender through it).
 */
function edgeDerivativesByGradient(cfg: GPT2Config, w: WeightsF64, pair: EdgePair, s: Setting): Map<string, number> {
  const { nLayers: L, nHeads: H, dModel: D, dHead: dh, dMlp, layerNormEps: eps } = cfg;
  const P = pair.base.length;
  const metric: EdgeMetric = (l) => l.at(pair.answer) - l.at(pair.wrong);
  const plainBase = edgeForward(cfg, w, pair.base, metric);
  const plainSource = edgeForward(cfg, w, pair.source, metric);
  const hooks: Record<string, (v: Float64Array) => Float64Array> = {};
  if (s.alpha) {
    const [from, to] = [plainBase.senders.get('input')!, plainSource.senders.get('input')!];
    hooks['blocks.0.hook_resid_pre'] = () => from.map((x, i) => x + s.alpha! * (to[i] - x));
  }
  const held = s.drop === undefined ? [] : [`blocks.${s.drop}.hook_attn_out`, `blocks.${s.drop}.hook_mlp_out`];
  const { grads, cache } = referenceBackwardF64(cfg, w, pair.base, logitDiffTerms(P, pair.answer, pair.wrong), { hooks, held });
  /** dM/dx of out = LayerNorm(x) * gamma + beta from dM/d out, x [P, D]. */
  const lnBack = (x: Float64Array, gamma: Float64Array, gOut: Float64Array) => {
    const gX = new Float64Array(P * D);
    for (let t = 0; t < P; t++) {
      const row = x.subarray(t * D, (t + 1) * D);
      const mean = row.reduce((a, v) => a + v, 0) / D;
      const xc = Array.from(row, (v) => v - mean);
      const scale = Math.sqrt(xc.reduce((a, v) => a + v * v, 0) / D + eps);
      const gN = xc.map((_, i) => gOut[t * D + i] * gamma[i]); // d / d(xc / scale)
      const dot = gN.reduce((a, g, i) => a + g * xc[i], 0);
      const gXc = gN.map((g, i) => g / scale - (dot * xc[i]) / (D * scale ** 3));
      const m = gXc.reduce((a, v) => a + v, 0) / D;
      gXc.forEach((g, i) => (gX[t * D + i] = g - m));
    }
    return gX;
  };
  const inputGrad = (receiver: string): Float64Array => {
    if (receiver === 'logits') {
      const wte = w.get('wte.weight')!;
      const gOut = new Float64Array(P * D);
      for (let i = 0; i < D; i++) gOut[(P - 1) * D + i] = wte[pair.answer * D + i] - wte[pair.wrong * D + i];
      return lnBack(cache.get(`blocks.${L - 1}.hook_resid_post`)!, w.get('ln_f.weight')!, gOut);
    }
    const mlp = /^m(\d+)$/.exec(receiver);
    if (mlp) {
      const l = +mlp[1];
      const [gPre, Wfc] = [grads.get(`blocks.${l}.mlp.hook_pre`)!, w.get(`h.${l}.mlp.c_fc.weight`)!];
      const gOut = new Float64Array(P * D);
      for (let t = 0; t < P; t++) for (let i = 0; i < D; i++) for (let j = 0; j < dMlp; j++) gOut[t * D + i] += gPre[t * dMlp + j] * Wfc[i * dMlp + j];
      return lnBack(cache.get(`blocks.${l}.hook_resid_mid`)!, w.get(`h.${l}.ln_2.weight`)!, gOut);
    }
    const [, l, h, side] = /^a(\d+)\.h(\d+)<([qkv])>$/.exec(receiver)!.map((x, i) => (i === 3 ? x : +x)) as [string, number, number, string];
    const which = 'qkv'.indexOf(side);
    const [g, Wqkv] = [grads.get(`blocks.${l}.attn.hook_${side}`)!, w.get(`h.${l}.attn.c_attn.weight`)!];
    const gOut = new Float64Array(P * D);
    for (let t = 0; t < P; t++)
      for (let i = 0; i < D; i++)
        for (let e = 0; e < dh; e++) gOut[t * D + i] += g[(t * H + h) * dh + e] * Wqkv[i * 3 * D + which * D + h * dh + e];
    return lnBack(cache.get(`blocks.${l}.hook_resid_pre`)!, w.get(`h.${l}.ln_1.weight`)!, gOut);
  };
  const out = new Map<string, number>();
  for (const [receiver, ups] of receiverSenders(cfg)) {
    const gIn = inputGrad(receiver);
    for (const u of ups) {
      const [a, b] = [plainSource.senders.get(u)!, plainBase.senders.get(u)!];
      out.set(`${u}->${receiver}`, gIn.reduce((acc, g, i) => acc + g * (a[i] - b[i]), 0));
    }
  }
  return out;
}

/** Causal attention pattern [P, P] of one head from its query and key inputs [P, d_model] (ln_1, then W_Q / W_K). */
function headPattern(cfg: GPT2Config, w: WeightsF64, l: number, h: number, inQ: Float64Array, inK: Float64Array): Float64Array {
  const { dModel: D, dHead: dh, layerNormEps: eps } = cfg;
  const P = inQ.length / D;
  const [gamma, beta] = [w.get(`h.${l}.ln_1.weight`)!, w.get(`h.${l}.ln_1.bias`)!];
  const [Wqkv, bqkv] = [w.get(`h.${l}.attn.c_attn.weight`)!, w.get(`h.${l}.attn.c_attn.bias`)!];
  const project = (x: Float64Array, which: number) => {
    const out = new Float64Array(P * dh);
    for (let t = 0; t < P; t++) {
      const row = x.subarray(t * D, (t + 1) * D);
      const mean = row.reduce((a, v) => a + v, 0) / D;
      const scale = Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / D + eps);
      const ln = Array.from(row, (v, i) => ((v - mean) / scale) * gamma[i] + beta[i]);
      for (let e = 0; e < dh; e++) {
        const col = which * D + h * dh + e;
        let s = bqkv[col];
        for (let i = 0; i < D; i++) s += ln[i] * Wqkv[i * 3 * D + col];
        out[t * dh + e] = s;
      }
    }
    return out;
  };
  const [q, k] = [project(inQ, 0), project(inK, 1)];
  const A = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    const s = Array.from({ length: i + 1 }, (_, j) => {
      let d = 0;
      for (let e = 0; e < dh; e++) d += q[i * dh + e] * k[j * dh + e];
      return d / Math.sqrt(dh);
    });
    const m = Math.max(...s);
    const ex = s.map((x) => Math.exp(x - m));
    const z = ex.reduce((a, x) => a + x, 0);
    ex.forEach((x, j) => (A[i * P + j] = x / z));
  }
  return A;
}

/** QK fix of every edge into a query or key, for one pair, with dM/dA of the base run (GradDrop pass `drop`). */
function qkDerivatives(cfg: GPT2Config, weights: Weights, w: WeightsF64, pair: EdgePair, drop?: number): Map<string, number> {
  const metric: EdgeMetric = (l) => l.at(pair.answer) - l.at(pair.wrong);
  const base = edgeForward(cfg, w, pair.base, metric);
  const source = edgeForward(cfg, w, pair.source, metric);
  const P = pair.base.length;
  const out = new Map<string, number>();
  for (const [receiver, ups] of receiverSenders(cfg)) {
    const m = /^a(\d+)\.h(\d+)<([qk])>$/.exec(receiver);
    if (!m) continue;
    const [l, h, side] = [+m[1], +m[2], m[3]];
    const G = patternGrad(cfg, w, pair, l, drop);
    const inQ = base.inputs.get(`a${l}.h${h}<q>`)!;
    const inK = base.inputs.get(`a${l}.h${h}<k>`)!;
    const A = headPattern(cfg, w, l, h, inQ, inK);
    for (const u of ups) {
      const dir = sub(source.senders.get(u)!, base.senders.get(u)!);
      const moved = (x: Float64Array) => x.map((v, i) => v + dir[i]);
      const Ap = side === 'q' ? headPattern(cfg, w, l, h, moved(inQ), inK) : headPattern(cfg, w, l, h, inQ, moved(inK));
      let s = 0;
      for (let i = 0; i < P * P; i++) s += (Ap[i] - A[i]) * G[h * P * P + i];
      out.set(`${u}->${receiver}`, s);
    }
  }
  return out;
}

const gradCache = new Map<string, Float64Array>();
/**
 * dM/d pattern [head_index, query_pos, key_pos] of layer l on the base run (the float64 backward of
 * backward-f64.ts, checked against finite differences); in GradDrop's pass `drop`, that layer's attn_out and mlp_out
 * are held (no gradient into their inputs).
 */
function patternGrad(cfg: GPT2Config, w: WeightsF64, pair: EdgePair, l: number, drop?: number): Float64Array {
  const key = `${cfg.name}:${pair.base.join(',')}:${pair.answer}:${pair.wrong}:${l}:${drop ?? 'none'}`;
  let G = gradCache.get(key);
  if (!G) {
    const held = drop === undefined ? [] : [`blocks.${drop}.hook_attn_out`, `blocks.${drop}.hook_mlp_out`];
    const { grads } = referenceBackwardF64(cfg, w, pair.base, logitDiffTerms(pair.base.length, pair.answer, pair.wrong), { held });
    G = grads.get(`blocks.${l}.attn.hook_pattern`)!;
    gradCache.set(key, G);
  }
  return G;
}

export type EdgeMethod = 'qk-fix' | 'graddrop' | 'atp-star' | 'ig-inputs';

/** Reference edge scores of one estimator, mean over pairs (|.| per pair for GradDrop and AtP*): "u->v" -> value. */
export function refEdgeEstimates(
  cfg: GPT2Config, weights: Weights, pairs: EdgePair[], method: EdgeMethod, steps = 1, by: 'finite differences' | 'gradients' = 'finite differences',
): Map<string, number> {
  const edgeDerivatives = by === 'gradients' ? edgeDerivativesByGradient : edgeDerivativesFD;
  const w = toFloat64Weights(cfg, weights);
  const L = cfg.nLayers;
  const total = new Map<string, number>();
  const add = (m: Map<string, number>, scale: number, abs: boolean) => {
    for (const [k, v] of m) total.set(k, (total.get(k) ?? 0) + scale * (abs ? Math.abs(v) : v));
  };
  const isQk = (edge: string) => /<[qk]>$/.test(edge);
  for (const pair of pairs) {
    if (method === 'ig-inputs')
      for (let k = 0; k < steps; k++) add(edgeDerivatives(cfg, w, pair, { alpha: k / steps }), 1 / (steps * pairs.length), false);
    else if (method === 'qk-fix') {
      const plain = edgeDerivatives(cfg, w, pair, {});
      const qk = qkDerivatives(cfg, weights, w, pair);
      add(new Map([...plain].map(([k, v]) => [k, isQk(k) ? qk.get(k)! : v])), 1 / pairs.length, false);
    } else
      for (let l = 0; l < L; l++) {
        const gd = edgeDerivatives(cfg, w, pair, { drop: l });
        const qk = method === 'atp-star' ? qkDerivatives(cfg, weights, w, pair, l) : undefined;
        add(new Map([...gd].map(([k, v]) => [k, qk && isQk(k) ? qk.get(k)! : v])), 1 / ((L - 1) * pairs.length), true);
      }
  }
  return total;
}
