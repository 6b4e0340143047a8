// Multi-token answers by teacher forcing (issue 13, item 3). When --answer or --wrong (or a pair's answer_tokens /
// wrong_tokens) is several tokens, the metric of a prompt pair is
//   M = sum_i log p(a_i | prompt, a_<i) - sum_j log p(w_j | prompt, w_<j)
// (logit_diff; logprob keeps only the answer's sum). Each pair becomes two rows of one padded batch: the prompt
// followed by the answer's first n-1 tokens, and the prompt followed by the wrong answer's, padded to the longer
// continuation (n = max length); log p of token i is read at the position before it (prompt length - 1 + i).
// Padding sits after every position a row reads, so causal attention keeps it out of the metric, its gradient and
// every patch. Clean and corrupted rows get the same continuation tokens; patches apply to both rows of a pair, at
// prompt positions and at the continuation's positions alike (the layouts' position axis covers both).
//
// The rows' metric is 2 * (sum of the answer's log-probs) and -2 * (the wrong answer's), so the mean over all rows
// is the mean over pairs of M, and a pair's own value is the mean of its two rows (foldRows).
import { Graph, Mul, ReduceSum, Reshape, Sub, logSumExp, type Tensor } from '../graph';
import { atPositions, gpt2Forward, unembed, weightInputs, type WeightInputs } from '../model/gpt2';
import { displayToken } from '../model/tokenizer';
import type { GPT2Config } from '../model/types';
import type { Feed, Runtime } from '../runtime/types';
import type { Experiment } from './experiment';

export { foldRows, needsForcing, pairCount, resolveWithContinuations, type Forced, type PairTokens } from './continuations-plan';

/** The metric's token coefficients [rows, K, d_vocab]: +2 at each answer token, -2 at each wrong token. */
export function forcedFeeds(cfg: GPT2Config, exp: Experiment): Record<string, Feed> {
  const { answer, wrong } = exp.forced!;
  const K = exp.positions.length;
  const V = cfg.dVocab;
  const coef = new Float32Array(exp.nPairs * K * V);
  answer.forEach((a, i) => {
    a.forEach((t, k) => (coef[((2 * i) * K + k) * V + t] = 2));
    wrong[i].forEach((t, k) => (coef[((2 * i + 1) * K + k) * V + t] = -2));
  });
  return { 'metric.coef': { dtype: 'float32', shape: [exp.nPairs, K, V], data: coef } };
}

/**
 * The rows' metric from ln_final's output at the read positions [rows, K, d_model] (selected by metricRows, as
 * for any metric): sum over the read positions of sum_v coef[v] * log_softmax(logits)[v]
 * = picked - (sum_v coef[v]) * logsumexp(logits). [rows]
 */
export function forcedRows(cfg: GPT2Config, w: WeightInputs, at: Tensor, exp: Experiment, coef: Tensor): Tensor {
  const rows = at.shape[0];
  const N = exp.nPairs;
  const K = exp.positions.length;
  const S = rows / N;
  const logits = Reshape(unembed(cfg, w, at), [S, N, K, cfg.dVocab]);
  const picked = ReduceSum(Mul(logits, coef), [3]); // [S, N, K]
  const weight = ReduceSum(coef, [2]); // [N, K]: +2, -2 or 0 (padding)
  const perPos = Sub(picked, Mul(weight, Reshape(logSumExp(logits), [S, N, K])));
  return Reshape(ReduceSum(perPos, [2]), [rows]);
}

export interface TokenLogprob {
  token: number;
  text: string;
  /** log p(token | prompt, earlier tokens) in the clean and the corrupted run. */
  clean: number;
  corrupted: number;
}

export interface PerToken {
  answer: TokenLogprob[];
  wrong: TokenLogprob[];
}

/** The per-token breakdown of every original pair: each token's teacher-forced log-prob in both runs. */
export async function perTokenLogprobs(rt: Runtime, cfg: GPT2Config, exp: Experiment): Promise<PerToken[]> {
  const { answer, wrong } = exp.forced!;
  const [R, P, K, V] = [exp.nPairs, exp.nPos, exp.positions.length, cfg.dVocab];
  const onehot = new Float32Array(R * K * V);
  answer.forEach((a, i) => {
    a.forEach((t, k) => (onehot[((2 * i) * K + k) * V + t] = 1));
    wrong[i].forEach((t, k) => (onehot[((2 * i + 1) * K + k) * V + t] = 1));
  });
  const tokens = (seqs: number[][]): Feed => ({ dtype: 'int64', shape: [R, P], data: BigInt64Array.from(seqs.flat(), BigInt) });
  const out = await rt.run(`forced-logprobs:${cfg.name}:${R}x${P}:${exp.positions.join('.')}`, () => {
    const g = new Graph('forced-logprobs');
    const w = weightInputs(g, cfg);
    const pick = g.input('onehot', [R, K, V]);
    for (const role of ['clean', 'corrupted']) {
      const logits = unembed(cfg, w, atPositions(gpt2Forward(cfg, w, g.input(`tokens.${role}`, [R, P], 'int64')), exp.positions)); // [R, K, d_vocab]
      g.output(ReduceSum(Mul(Sub(logits, logSumExp(logits)), pick), [2]), `logp.${role}`); // [R, K]
    }
    return g;
  }, { 'tokens.clean': tokens(exp.clean), 'tokens.corrupted': tokens(exp.corrupted), onehot: { dtype: 'float32', shape: [R, K, V], data: onehot } });
  const read = (ids: number[], row: number) =>
    ids.map((token, k) => ({ token, text: displayToken(token), clean: out['logp.clean'].data[row * K + k], corrupted: out['logp.corrupted'].data[row * K + k] }));
  return answer.map((a, i) => ({ answer: read(a, 2 * i), wrong: read(wrong[i], 2 * i + 1) }));
}
