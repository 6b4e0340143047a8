// The teacher-forced metric as graph code (continuations.ts says what the rows are): metric rows from ln_final's
// output, and each continuation token's log-prob in the clean and the corrupted run (`per_token`).
import { Graph, Mul, ReduceSum, Reshape, Sub, logSumExp, type Tensor } from '../graph';
import { atPositions, gpt2Forward, unembed, weightInputs, type WeightInputs } from '../model/gpt2';
import { displayToken } from '../model/tokenizer';
import type { GPT2Config } from '../model/types';
import type { Feed, Runtime } from '../runtime/types';
import type { PerToken } from './continuations';
import type { Experiment } from './experiment';

/**
 * The rows' metric from ln_final's output at the read positions [rows, K, d_model] (selected by metricRows, as
 * for any metric, so the symbolic patch graph's suffix positions work too): sum over the read positions of
 * sum_v coef[v] * log_softmax(logits)[v] = picked - (sum_v coef[v]) * logsumexp(logits). [rows]
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
