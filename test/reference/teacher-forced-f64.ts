// Float64 reference for multi-token answers scored by teacher forcing (issue 13): for a prompt and a continuation
// c_0..c_{m-1}, run the prompt followed by c_0..c_{m-2} (its natural length, no padding, no batch) and add
// log softmax(logits[P - 1 + i])[c_i]. The metric of a pair is the answer's sum minus the wrong answer's (or the
// answer's alone). Attribution and patches run each continuation's sequence on its own and add the two with their
// signs; a cell that lies beyond a sequence's length contributes nothing to it. Nothing from src/engine/patching.
import type { GPT2Config, Weights } from '../../src/engine/model/types';
import { hookGradFD } from './finite-diff';
import { referenceForwardF64, toFloat64Weights } from './gpt2-f64';
import { referencePatch } from './patch-f64';

export interface ForcedPair {
  clean: number[];
  corrupted: number[];
  answer: number[];
  /** Empty: the answer's sum alone (logprob). */
  wrong: number[];
}

const fedSequence = (prompt: number[], cont: number[]) => [...prompt, ...cont.slice(0, -1)];

function lse(row: Float64Array): number {
  let m = -Infinity;
  for (const x of row) m = Math.max(m, x);
  let s = 0;
  for (const x of row) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** log p of each continuation token from logits [pos, d_vocab] of the fed sequence. */
export function tokenLogprobs(logits: Float64Array, dVocab: number, promptLength: number, cont: number[]): number[] {
  return cont.map((t, i) => {
    const row = logits.subarray((promptLength - 1 + i) * dVocab, (promptLength + i) * dVocab);
    return row[t] - lse(row);
  });
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The teacher-forced metric of one prompt, with each token's log-prob. */
export function refForcedMetric(cfg: GPT2Config, weights: Weights, prompt: number[], answer: number[], wrong: number[]) {
  const w = toFloat64Weights(cfg, weights);
  const logp = (cont: number[]) => (cont.length ? tokenLogprobs(referenceForwardF64(cfg, w, fedSequence(prompt, cont)).logits, cfg.dVocab, prompt.length, cont) : []);
  const a = logp(answer);
  const b = logp(wrong);
  return { total: sum(a) - sum(b), answer: a, wrong: b };
}

/** Where a cell sits in a fed sequence of `seqLen` tokens: its hook and flat entries, or null (beyond the sequence). */
export type RefCellAt = (seqLen: number) => { hook: string; entries: number[] } | null;

/** Attribution (denoising) of a cell: sum over the two sequences of sign * sum_x (clean - corrupted)[x] * dM/dx. */
export function refForcedAttribution(cfg: GPT2Config, weights: Weights, pair: ForcedPair, cell: RefCellAt): number {
  const w = toFloat64Weights(cfg, weights);
  const P = pair.clean.length;
  let total = 0;
  for (const [cont, sign] of [[pair.answer, 1], [pair.wrong, -1]] as const) {
    if (!cont.length) continue;
    const clean = fedSequence(pair.clean, cont);
    const corrupted = fedSequence(pair.corrupted, cont);
    const c = cell(clean.length);
    if (!c) continue;
    const metric = (logits: Float64Array) => sign * sum(tokenLogprobs(logits, cfg.dVocab, P, cont));
    const grad = hookGradFD(cfg, weights, corrupted, metric, c.hook, c.entries, 1e-4);
    const s = referenceForwardF64(cfg, w, clean).cache.get(c.hook)!.data;
    const b = referenceForwardF64(cfg, w, corrupted).cache.get(c.hook)!.data;
    c.entries.forEach((x, i) => (total += (s[x] - b[x]) * grad[i]));
  }
  return total;
}

/** Exact patch (denoising) of a cell: the corrupted sequences with the cell from the clean ones, minus unpatched. */
export function refForcedPatch(cfg: GPT2Config, weights: Weights, pair: ForcedPair, cell: RefCellAt): number {
  const w = toFloat64Weights(cfg, weights);
  const P = pair.clean.length;
  let total = 0;
  for (const [cont, sign] of [[pair.answer, 1], [pair.wrong, -1]] as const) {
    if (!cont.length) continue;
    const clean = fedSequence(pair.clean, cont);
    const corrupted = fedSequence(pair.corrupted, cont);
    const c = cell(clean.length);
    if (!c) continue;
    const metric = (logits: Float64Array) => sign * sum(tokenLogprobs(logits, cfg.dVocab, P, cont));
    const patched = referencePatch(cfg, weights, { target: corrupted, source: clean, hook: c.hook, mask: c.entries, metric });
    total += patched - metric(referenceForwardF64(cfg, w, corrupted).logits);
  }
  return total;
}

/**
 * Exact ablation of a cell in a pair's CLEAN run, multi-token answers: for each continuation, the clean prompt's fed
 * sequence with the cell's entries set to zero (`resample` null) or to their values in the fed sequence of the
 * reference prompt `resample` followed by the same continuation tokens; metric(ablated) - metric(clean), summed with
 * the continuations' signs.
 */
export function refForcedAblation(cfg: GPT2Config, weights: Weights, pair: ForcedPair, cell: RefCellAt, resample: number[] | null): number {
  const w = toFloat64Weights(cfg, weights);
  const P = pair.clean.length;
  let total = 0;
  for (const [cont, sign] of [[pair.answer, 1], [pair.wrong, -1]] as const) {
    if (!cont.length) continue;
    const run = fedSequence(pair.clean, cont);
    const c = cell(run.length);
    if (!c) continue;
    const metric = (logits: Float64Array) => sign * sum(tokenLogprobs(logits, cfg.dVocab, P, cont));
    const source = resample ? referenceForwardF64(cfg, w, fedSequence(resample, cont)).cache.get(c.hook)!.data : null;
    const { logits } = referenceForwardF64(cfg, w, run, {
      hooks: {
        [c.hook]: (v) => {
          const out = v.slice();
          for (const e of c.entries) out[e] = source ? source[e] : 0;
          return out;
        },
      },
    });
    total += metric(logits) - metric(referenceForwardF64(cfg, w, run).logits);
  }
  return total;
}
