// Metrics as graph code, computed from ln_final's output at the metric positions only (no full logits).
// Rows are patch-major: row r = patch (r / nPairs), pair (r % nPairs); per-pair coefficients broadcast over patches.
import { Div, Exp, Graph, Mul, ReduceSum, Reshape, Sub, Where, logSumExp, type Tensor } from '../graph';
import { atPositions, unembed, type WeightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Feed } from '../runtime/types';
import { metricTargets, type Experiment } from './experiment';
import type { MetricName } from './types';

export interface MetricInputs {
  /** [nPairs, K, d_vocab]: +1 at the answer (target) token, -1 at the wrong token for logit_diff. */
  coef: Tensor;
  /** [1, 1, d_vocab] bool: the basket (basket metric only). */
  basket?: Tensor;
}

export function metricInputs(g: Graph, cfg: GPT2Config, exp: Experiment): MetricInputs {
  const K = exp.positions.length;
  return {
    coef: g.input('metric.coef', [exp.nPairs, K, cfg.dVocab]),
    basket: exp.spec.metric.name === 'basket' ? g.input('metric.basket', [1, 1, cfg.dVocab], 'bool') : undefined,
  };
}

export function metricFeeds(cfg: GPT2Config, exp: Experiment): Record<string, Feed> {
  const K = exp.positions.length;
  const V = cfg.dVocab;
  const coef = new Float32Array(exp.nPairs * K * V);
  for (let b = 0; b < exp.nPairs; b++) {
    const targets = metricTargets(exp, b);
    for (let k = 0; k < K; k++) {
      coef[(b * K + k) * V + targets[k]] += 1;
      if (exp.spec.metric.name === 'logit_diff') coef[(b * K + k) * V + exp.wrongs[b]] -= 1;
    }
  }
  const feeds: Record<string, Feed> = { 'metric.coef': { dtype: 'float32', shape: [exp.nPairs, K, V], data: coef } };
  if (exp.spec.metric.name === 'basket') {
    const mask = new Uint8Array(V);
    for (const t of exp.basket) mask[t] = 1;
    feeds['metric.basket'] = { dtype: 'bool', shape: [1, 1, V], data: mask };
  }
  return feeds;
}

/** The metric for every row: lnOut [rows, pos, d_model] -> [rows]. */
export function metricRows(cfg: GPT2Config, w: WeightInputs, lnOut: Tensor, exp: Experiment, inputs: MetricInputs): Tensor {
  const rows = lnOut.shape[0];
  const N = exp.nPairs;
  const K = exp.positions.length;
  const S = rows / N;
  const logits = Reshape(unembed(cfg, w, atPositions(lnOut, exp.positions)), [S, N, K, cfg.dVocab]);
  const picked = ReduceSum(Mul(logits, inputs.coef), [3]); // [S, N, K]: the answer's logit (minus the wrong one's)
  const perPos = perPosition(exp.spec.metric.name, logits, picked, inputs);
  return Reshape(Div(ReduceSum(perPos, [2]), K), [rows]);
}

function perPosition(name: MetricName, logits: Tensor, picked: Tensor, inputs: MetricInputs): Tensor {
  const lse = () => Reshape(logSumExp(logits), picked.shape);
  switch (name) {
    case 'logit_diff':
    case 'logit':
      return picked;
    case 'logprob':
    case 'mean_logprob':
      return Sub(picked, lse());
    case 'prob':
      return Exp(Sub(picked, lse()));
    case 'basket':
      return Sub(picked, Reshape(logSumExp(Where(inputs.basket!, logits, -Infinity)), picked.shape));
  }
}

/** Mean over rows: the scalar whose gradient attribution uses. */
export function meanOf(rows: Tensor): Tensor {
  return Mul(ReduceSum(rows, [0]), 1 / rows.shape[0]);
}
