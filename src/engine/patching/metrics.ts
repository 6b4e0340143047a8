// Metrics as graph code, computed from ln_final's output at the metric positions only (no full logits).
// Rows are patch-major: row r = patch (r / nPairs), pair (r % nPairs); per-pair coefficients broadcast over patches.
import { Add, Div, Exp, Graph, Mul, ReduceSum, Reshape, Sub, Where, logSumExp, type Tensor } from '../graph';
import { atPositions, atRows, unembed, type Hook, type WeightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { int64Feed, type Feed, type Runtime } from '../runtime/types';
import { runSymbolic, sizesWithin } from '../runtime/symbolic';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import { metricTargets, type Experiment } from './experiment';
import type { MetricName } from './types';
import { forcedFeeds } from './continuations';
import { forcedRows } from './continuation-metric';
import { isInternalMetric } from './metric-spec';
import { internalFeeds, internalInputs, internalRows, metricCapture, prepareInternalMetric, type MetricCapture } from './internal-metric';

export interface MetricInputs {
  /** [nPairs, K, d_vocab]: +1 at the answer (target) token, -1 at the wrong token for logit_diff. */
  coef: Tensor;
  /** [1, 1, d_vocab] bool: the basket (basket metric only). */
  basket?: Tensor;
  /** [nPairs, K]: sum p log p of the source distribution (kl only; `coef` holds p). */
  negEntropy?: Tensor;
  /**
   * int64 [K], `metric.positions`: the metric positions as an input rather than constants, so that the graph does
   * not depend on them (symbolic sizes, issue 15). `selected`: the rows given to metricRows are already these.
   */
  positions?: Tensor;
  selected?: boolean;
}

/** `positionsInput`: the metric positions come from the input `metric.positions` (fed by metricFeeds). */
export function metricInputs(g: Graph, cfg: GPT2Config, exp: Experiment, positionsInput = false): MetricInputs {
  const K = exp.positions.length;
  if (isInternalMetric(exp.spec.metric.name))
    return { positions: positionsInput ? g.input('metric.positions', [K], 'int64') : undefined, ...internalInputs(g, cfg, exp) };
  return {
    positions: positionsInput ? g.input('metric.positions', [K], 'int64') : undefined,
    coef: g.input('metric.coef', [exp.nPairs, K, cfg.dVocab]),
    basket: exp.spec.metric.name === 'basket' ? g.input('metric.basket', [1, 1, cfg.dVocab], 'bool') : undefined,
    negEntropy: exp.spec.metric.name === 'kl' ? g.input('metric.neg_entropy', [exp.nPairs, K]) : undefined,
  };
}

export function metricFeeds(cfg: GPT2Config, exp: Experiment): Record<string, Feed> {
  const K = exp.positions.length;
  const V = cfg.dVocab;
  if (exp.forced) return { ...forcedFeeds(cfg, exp), ...positionsFeed(exp) }; // multi-token answers (continuations.ts)
  if (isInternalMetric(exp.spec.metric.name)) return { ...internalFeeds(cfg, exp), ...positionsFeed(exp) };
  if (exp.spec.metric.name === 'kl') {
    if (!exp.klSource) throw new Error('The kl metric needs its source distribution first: await prepareMetric(rt, cfg, exp).');
    return {
      'metric.coef': { dtype: 'float32', shape: [exp.nPairs, K, V], data: exp.klSource.probs },
      'metric.neg_entropy': { dtype: 'float32', shape: [exp.nPairs, K], data: exp.klSource.negEntropy },
      ...positionsFeed(exp),
    };
  }
  const coef = new Float32Array(exp.nPairs * K * V);
  for (let b = 0; b < exp.nPairs; b++) {
    const targets = metricTargets(exp, b);
    for (let k = 0; k < K; k++) {
      coef[(b * K + k) * V + targets[k]] += 1;
      if (exp.spec.metric.name === 'logit_diff') coef[(b * K + k) * V + exp.wrongs[b]] -= 1;
    }
  }
  const feeds: Record<string, Feed> = { 'metric.coef': { dtype: 'float32', shape: [exp.nPairs, K, V], data: coef }, ...positionsFeed(exp) };
  if (exp.spec.metric.name === 'basket') {
    const mask = new Uint8Array(V);
    for (const t of exp.basket) mask[t] = 1;
    feeds['metric.basket'] = { dtype: 'bool', shape: [1, 1, V], data: mask };
  }
  return feeds;
}

/** `metric.positions` (graphs that do not read it ignore the feed). */
export function positionsFeed(exp: Experiment, offset = 0): Record<string, Feed> {
  return { 'metric.positions': int64Feed(exp.positions.map((p) => p - offset), [exp.positions.length]) };
}

/**
 * The metric for every row: lnOut [rows, pos, d_model] -> [rows]. Internal metrics (internal-metric.ts) read the
 * value `capture` recorded in the same forward pass instead; every forward that feeds a metric wraps its hook with it.
 */
export function metricRows(cfg: GPT2Config, w: WeightInputs, lnOut: Tensor, exp: Experiment, inputs: MetricInputs, capture?: MetricCapture): Tensor {
  if (isInternalMetric(exp.spec.metric.name)) {
    if (!capture) throw new Error(`The ${exp.spec.metric.name} metric needs its hook captured in this graph (metricCapture).`);
    return internalRows(cfg, w, capture, exp, inputs.coef, inputs.positions);
  }
  const at = inputs.selected ? lnOut : inputs.positions ? atRows(lnOut, inputs.positions) : atPositions(lnOut, exp.positions);
  if (exp.forced) return forcedRows(cfg, w, at, exp, inputs.coef); // multi-token answers (continuations.ts)
  const rows = lnOut.shape[0];
  const N = exp.nPairs;
  const K = exp.positions.length;
  const S = rows / N;
  const logits = Reshape(unembed(cfg, w, at), [S, N, K, cfg.dVocab]);
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
    case 'kl':
      // KL(p || softmax(logits)) = sum p log p - sum p * logits + logsumexp(logits), with p (coef) held fixed.
      return Add(Sub(lse(), picked), inputs.negEntropy!);
    default:
      throw new Error(`The ${name} metric reads an internal activation, not the logits.`);
  }
}

/**
 * The metric rows of one forward pass: `forward` receives the wrapper that records an internal metric's hook (a
 * no-op for logit metrics) and returns ln_final's output. `trimmed`: the forward keeps only the metric rows in its
 * last layer (finalRows).
 */
export function metricOf(
  cfg: GPT2Config, w: WeightInputs, exp: Experiment, inputs: MetricInputs, forward: (wrap: (hook: Hook) => Hook) => Tensor, trimmed = false,
): Tensor {
  const cap = metricCapture(cfg, exp, trimmed);
  return metricRows(cfg, w, forward(cap.wrap), exp, inputs, cap);
}

export const noHook: Hook = (_name, t) => t;

/** Mean over rows: the scalar whose gradient attribution uses. */
export function meanOf(rows: Tensor): Tensor {
  return Mul(ReduceSum(rows, [0]), 1 / rows.shape[0]);
}

/**
 * The kl metric's source distribution: the clean run's next-token probabilities at the metric positions (the
 * source run when denoising; the run an ablation of the clean run compares against), computed once and fed as a
 * constant, so no gradient flows into it. Sets exp.klSource; other metrics need nothing.
 */
export async function prepareMetric(rt: Runtime, cfg: GPT2Config, exp: Experiment): Promise<Experiment> {
  if (exp.spec.metric.name === 'dla') return prepareInternalMetric(rt, cfg, exp);
  if (exp.spec.metric.name !== 'kl' || exp.klSource) return exp;
  const [N, P, K, V] = [exp.nPairs, exp.nPos, exp.positions.length, cfg.dVocab];
  // One session per (pairs, positions count), whatever the prompt's length (symbolic sizes).
  const sizes = sizesWithin(cfg.nCtx, P, [{ name: 'SYM_POS', value: P }]);
  const out = await runSymbolic(rt, `kl-source:${cfg.name}:${N}:${K}`, sizes, ([pos]) => {
    const g = new Graph('kl-source');
    const w = weightInputs(g, cfg);
    const at = g.input('metric.positions', [K], 'int64');
    const logits = unembed(cfg, w, atRows(gpt2Forward(cfg, w, g.input('tokens', [N, pos], 'int64')), at)); // [N, K, d_vocab]
    g.output(Sub(logits, logSumExp(logits)), 'logp');
    return g;
  }, { tokens: { dtype: 'int64', shape: [N, P], data: BigInt64Array.from(exp.clean.flat(), BigInt) }, ...positionsFeed(exp) });
  const logp = out.logp.data;
  const probs = new Float32Array(N * K * V);
  const negEntropy = new Float32Array(N * K);
  for (let r = 0; r < N * K; r++) {
    let s = 0;
    for (let v = 0; v < V; v++) {
      const lp = logp[r * V + v];
      const p = Math.exp(lp);
      probs[r * V + v] = p;
      if (p > 0) s += p * lp;
    }
    negEntropy[r] = s;
  }
  exp.klSource = { probs, negEntropy };
  return exp;
}
