// The metric of patched runs (activation.ts's patch graphs), where many rows (patches x pairs) share one metric.
// Metrics linear in the logits (logit_diff, logit: the sum of coef * logits) skip the unembedding: coef @ W_E^T
// summed against ln_final's output is ln_final's output dotted with coef @ W_E, one [d_model] direction per (pair,
// metric position), computed once per run instead of [d_vocab] logits per row (issue 15: the sweep's speed). Same
// value as metrics.ts's metricRows up to float32 rounding; every other metric goes through metricRows unchanged.
import { Div, MatMul, Mul, ReduceSum, Reshape, type Tensor } from '../graph';
import { atRows, type WeightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Experiment } from './experiment';
import { metricRows, type MetricInputs } from './metrics';
import type { MetricCapture } from './internal-metric';

/** The metric for every row: lnOut [rows, pos, d_model] -> [rows] (rows patch-major, as metricRows). */
export function patchMetricRows(cfg: GPT2Config, w: WeightInputs, lnOut: Tensor, exp: Experiment, inputs: MetricInputs, capture?: MetricCapture): Tensor {
  const linear = exp.spec.metric.name === 'logit_diff' || exp.spec.metric.name === 'logit';
  // Internal metrics (attn, prefix, neuron, dla) read their captured hook: metricRows.
  if (!linear || exp.forced || (!inputs.selected && !inputs.positions)) return metricRows(cfg, w, lnOut, exp, inputs, capture);
  const at = inputs.selected ? lnOut : atRows(lnOut, inputs.positions!); // [rows, K, d_model]
  const [rows, K, D] = at.shape;
  const N = exp.nPairs;
  const direction = MatMul(inputs.coef, w.get('wte.weight')!); // [N, K, d_vocab] @ [d_vocab, d_model] -> [N, K, d_model]
  const picked = ReduceSum(Mul(Reshape(at, [rows / N, N, K, D]), direction), [3]); // [S, N, K]
  return Reshape(Div(ReduceSum(picked, [2]), K), [rows]);
}
