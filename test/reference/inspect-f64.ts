// Float64 reference for the inspection views of one prompt at one position, with plain loops over the reference
// forward pass's cache (gpt2-f64.ts) and the Hugging Face weights; it shares no code with src/engine/patching.
//   - top-k next tokens: every logit of the row sorted (value down, then id up), softmax over the whole row;
//   - direct logit attribution, written the way TransformerLens computes it: each component's d_model vector at the
//     position (z @ W_O per head, hook_mlp_out, hook_embed + hook_pos_embed, the b_O of every layer), centred,
//     divided by ln_final.hook_scale, dotted with ln_f.weight * (W_U[:, target] - W_U[:, wrong]); plus
//     ln_f.bias . (W_U[:, target] - W_U[:, wrong]);
//   - logit lens: blocks.0.hook_resid_pre and every blocks.{l}.hook_resid_post at the position, each through
//     ln_final with its own mean and scale, then the tied unembedding, then top-k.
import type { GPT2Config, Weights } from '../../src/engine/model/types';
import { referenceForward, toFloat64Weights, type ForwardResult } from './gpt2-f64';

export interface RefToken {
  id: number;
  logit: number;
  prob: number;
}

export interface RefInspection {
  /** logits at the position (every token). */
  logits: Float64Array;
  top: RefToken[];
  /** [layer * n_heads + head] */
  heads: Float64Array;
  mlps: Float64Array;
  embed: number;
  attnBias: number;
  lnFinalBias: number;
  /** [layer + 1][rank]: resid_pre 0, then resid_post of each layer. */
  lens: RefToken[][];
}

/** The k largest entries of a row, sorted by value (then id), with softmax probabilities over the whole row. */
export function refTopK(row: Float64Array, k: number): RefToken[] {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let z = 0;
  for (const x of row) z += Math.exp(x - max);
  const ids = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
  return ids.slice(0, k).map((id) => ({ id, logit: row[id], prob: Math.exp(row[id] - max) / z }));
}

export function referenceInspect(
  cfg: GPT2Config,
  weights: Weights,
  tokens: number[],
  o: { pos: number; target: number; wrong: number | null; k: number },
): RefInspection {
  const { nLayers: L, nHeads: H, dModel: D, dHead: dh, dVocab: V, layerNormEps: eps } = cfg;
  const w = toFloat64Weights(cfg, weights);
  const run: ForwardResult = referenceForward(cfg, weights, tokens, { logitPositions: [o.pos] });
  const act = (name: string) => run.cache.get(name)!.data;
  const p = o.pos;
  const wte = w.get('wte.weight')!;
  const gamma = w.get('ln_f.weight')!;
  const beta = w.get('ln_f.bias')!;

  // The metric direction in d_model: W_U[:, target] - W_U[:, wrong] (W_U = W_E^T, tied).
  const d = new Float64Array(D);
  for (let i = 0; i < D; i++) d[i] = wte[o.target * D + i] - (o.wrong === null ? 0 : wte[o.wrong * D + i]);
  const scale = act('ln_final.hook_scale')[p];
  const through = (c: Float64Array): number => {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += c[i];
    mean /= D;
    let s = 0;
    for (let i = 0; i < D; i++) s += ((c[i] - mean) / scale) * gamma[i] * d[i];
    return s;
  };
  const rowOf = (name: string) => act(name).slice(p * D, (p + 1) * D);

  const heads = new Float64Array(L * H);
  const mlps = new Float64Array(L);
  const biasSum = new Float64Array(D);
  for (let l = 0; l < L; l++) {
    const z = act(`blocks.${l}.attn.hook_z`); // [pos, head_index, d_head]
    const WO = w.get(`h.${l}.attn.c_proj.weight`)!; // [head_index * d_head, d_model]
    for (let h = 0; h < H; h++) {
      const c = new Float64Array(D);
      for (let e = 0; e < dh; e++) {
        const ze = z[(p * H + h) * dh + e];
        for (let j = 0; j < D; j++) c[j] += ze * WO[(h * dh + e) * D + j];
      }
      heads[l * H + h] = through(c);
    }
    mlps[l] = through(rowOf(`blocks.${l}.hook_mlp_out`));
    const bO = w.get(`h.${l}.attn.c_proj.bias`)!;
    for (let j = 0; j < D; j++) biasSum[j] += bO[j];
  }
  const embed = rowOf('hook_embed');
  const pos = rowOf('hook_pos_embed');
  let lnFinalBias = 0;
  for (let i = 0; i < D; i++) lnFinalBias += beta[i] * d[i];

  const lensRow = (x: Float64Array): Float64Array => {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[i];
    mean /= D;
    let ms = 0;
    for (let i = 0; i < D; i++) ms += (x[i] - mean) ** 2;
    const s = Math.sqrt(ms / D + eps);
    const n = new Float64Array(D);
    for (let i = 0; i < D; i++) n[i] = ((x[i] - mean) / s) * gamma[i] + beta[i];
    const logits = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let acc = 0;
      for (let i = 0; i < D; i++) acc += n[i] * wte[v * D + i];
      logits[v] = acc;
    }
    return logits;
  };
  const residuals = [rowOf('blocks.0.hook_resid_pre'), ...Array.from({ length: L }, (_, l) => rowOf(`blocks.${l}.hook_resid_post`))];
  const logits = run.logits.slice(p * V, (p + 1) * V);
  return {
    logits,
    top: refTopK(logits, o.k),
    heads,
    mlps,
    embed: through(embed.map((x, i) => x + pos[i])),
    attnBias: through(biasSum),
    lnFinalBias,
    lens: residuals.map((r) => refTopK(lensRow(r), o.k)),
  };
}
