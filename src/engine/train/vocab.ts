// The toy model trains only the embedding rows of the tokens its data uses (the subset and BOS). Training runs on a
// compact model whose vocabulary is those rows (token ids renumbered), with a softmax over them alone; the checkpoint
// is the full GPT-2-vocabulary model, whose other rows must then not take probability mass. `sealUntrainedRows`
// gives them all one fixed, very low logit at every position (exactly in real arithmetic; a checkpoint stored in
// F16 rounds the rows, and the logit then varies by a few nats: train-toy.ts measures it on the written file).
//
// Why not train over the full vocabulary: the [rows, 50257] unembedding was 90% of a step's time, and worse, it
// stalls learning. Pushing 50k never-seen tokens down needs every trained token's logit ~15 above theirs, which the
// tied embedding can only reach through one direction shared by all trained embeddings; that shared direction
// swamps token identity at the input, and the model sat at the uniform loss for thousands of steps (measured: no
// progress in 6000 steps; with the compact softmax the circuit forms in about 2000).

import type { TrainBatch } from './data';
import { BOS_TOKEN } from '../model/tokenizer';
import type { GPT2Config, Weights } from '../model/types';

/** The token ids whose embedding rows are trained, in compact-row order: the subset, then BOS if not in it. */
export function trainedIds(subset: readonly number[]): number[] {
  return subset.includes(BOS_TOKEN) ? [...subset] : [...subset, BOS_TOKEN];
}

/** The compact model: `cfg` with a vocabulary of the trained rows only. */
export function compactConfig(cfg: GPT2Config, ids: readonly number[]): GPT2Config {
  return { ...cfg, dVocab: ids.length };
}

/** `b` with its token ids renumbered to compact rows. */
export function compactBatch(b: TrainBatch, ids: readonly number[]): TrainBatch {
  const row = new Map(ids.map((id, i) => [id, i]));
  const at = (t: number) => {
    const r = row.get(t);
    if (r === undefined) throw new Error(`train: token ${t} is not one of the trained rows`);
    return r;
  };
  return { ...b, tokens: b.tokens.map(at), targets: b.targets.map(at) };
}

/** The full model from the compact one: W_E gets `cfg.dVocab` rows, the trained ones in place, the rest zero. */
export function expandVocab(compact: Weights, ids: readonly number[], cfg: GPT2Config): Weights {
  const small = compact.get('wte.weight')!;
  const d = small.shape[1];
  const full = new Float32Array(cfg.dVocab * d);
  ids.forEach((id, i) => full.set(small.data.subarray(i * d, (i + 1) * d), id * d));
  return new Map([...compact].map(([name, t]) => [name, name === 'wte.weight' ? { shape: [cfg.dVocab, d], data: full } : t]));
}

/**
 * Sets every row of W_E outside `ids` to r = α / γ (elementwise; γ, β = ln_f's weight and bias), in place. The
 * logit of such a row is LN_f(x) · r = Σ_i (γ_i x̂_i + β_i) α / γ_i = α Σ_i x̂_i + α Σ_i β_i / γ_i, and LayerNorm's
 * x̂ sums to zero, so the logit is α Σ β_i / γ_i at every position of every input: α is chosen to make it `logit`.
 * Trained rows, and so every trained logit and every activation on trained tokens, are untouched. Returns α.
 */
export function sealUntrainedRows(weights: Weights, ids: readonly number[], logit: number): number {
  const gamma = weights.get('ln_f.weight')!.data;
  const beta = weights.get('ln_f.bias')!.data;
  const wte = weights.get('wte.weight')!;
  const [vocab, d] = wte.shape;
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad !== undefined) throw new Error(`sealUntrainedRows: ${bad} is not a token id of a ${vocab}-token vocabulary`);
  let k = 0;
  for (let i = 0; i < d; i++) {
    if (Math.abs(gamma[i]) < 1e-3) throw new Error(`sealUntrainedRows: ln_f.weight[${i}] = ${gamma[i]} is too near zero`);
    k += beta[i] / gamma[i];
  }
  if (Math.abs(k) < 1e-3) throw new Error(`sealUntrainedRows: Σ β/γ of ln_f is ${k}, too near zero to scale`);
  const alpha = logit / k;
  const row = Float32Array.from(gamma, (g) => alpha / g);
  const trained = new Set(ids);
  for (let t = 0; t < vocab; t++) if (!trained.has(t)) wte.data.set(row, t * d);
  return alpha;
}
