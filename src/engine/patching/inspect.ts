// The views a researcher checks before trusting a patch (issue 14), all at the metric position, from ONE graph run
// over every pair's clean and corrupted prompt (rows = [clean pairs..., corrupted pairs...]):
//   - top-k next tokens of each prompt (ids, logits, probabilities);
//   - direct logit attribution (DLA) of every head, every MLP, the embeddings and the biases;
//   - the logit lens of one chosen pair: the accumulated residual stream after each layer through ln_final and the
//     unembedding.
// Only the metric position's logits ([2N, d_vocab], and [2, layer + 1, d_vocab] for the lens) and a few small arrays
// leave the device; softmax and top-k run here in float64 (the graph's op set has no TopK).
//
// DLA follows TransformerLens (cache.stack_head_results / decompose_resid + apply_ln_to_stack, unfolded weights):
// the final residual stream at the metric position m is exactly
//   resid = embed + pos_embed + sum_{l,h} z[m, l, h] @ W_O[l, h] + sum_l b_O[l] + sum_l mlp_out[l],
// ln_final is  (resid - mean(resid)) / scale * gamma + beta  with the run's own scale (ln_final.hook_scale), and
// the metric direction d (in d_model) is W_U[:, target] - W_U[:, wrong] for logit_diff. Centring is linear, so each
// component c contributes  (c - mean(c)) / scale . (gamma * d)  and the components together with the constant
// beta . d (the `lnFinalBias` component) sum EXACTLY to d . ln_final(resid), the run's logit difference.
// For every other metric (logit, logprob, prob, basket, mean_logprob) the direction is the target's unembedding
// W_U[:, target] alone, and the components sum to logit(target): the logit that the metric reads, not the
// metric itself (logprob's log-sum-exp and the basket are not linear in the residual stream). The metric position
// is the last of exp.positions (the final token for every metric but mean_logprob) and the target there is the one
// the metric reads (metricTargets: the answer, or the clean continuation for mean_logprob).
// The values are TransformerLens's on a model loaded with from_pretrained_no_processing (Patchwork's convention). With
// the default processing they shift: fold_value_biases moves each head's b_V @ W_O[h] into b_O, ln_f.bias lives in
// b_U (no component), and center_unembed turns a single-logit direction into logit(target) - mean logit.
import {
  Add, Concat, Div, Gather, Graph, GemmTransB, Mul, ReduceSum, Reshape, Slice, Sub, layerNorm, meanLast, type Tensor,
} from '../graph';
import { gpt2Forward, unembed, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { int64Feed, type Fetched, type Runtime } from '../runtime/types';
import { tokenFeed } from './attribution';
import { metricTargets, type Experiment } from './experiment';
import type { Labelled } from './labelled';
import { metricFeeds, metricInputs, metricRows } from './metrics';
import { metricCapture } from './internal-metric';
import { formatMetric } from './metric-spec';

export interface InspectOptions {
  /** The pair whose prompts the logit lens reads (default 0). */
  lensPair?: number;
  /** Tokens per list: top predictions and each logit-lens layer (default 5). */
  k?: number;
}

/** One token of a top-k list; prob is softmax over the whole vocabulary at that position. */
export interface TokenScore {
  id: number;
  logit: number;
  prob: number;
}

/**
 * Direct logit attribution of one run (mean over pairs). Every value is in logits along the metric direction;
 * heads + mlps + embed + attnBias + lnFinalBias = total exactly (up to float32 rounding).
 */
export interface DirectLogitAttribution {
  /** ['layer', 'head']: (z[m, h] @ W_O[h], no b_O) through ln_final. */
  heads: Labelled;
  /** ['layer']: hook_mlp_out (c_proj's bias included, as TransformerLens) through ln_final. */
  mlps: Labelled;
  /** hook_embed + hook_pos_embed through ln_final. */
  embed: number;
  /** b_O of every layer together through ln_final. */
  attnBias: number;
  /** ln_final's bias . direction: the one term not divided by the scale. */
  lnFinalBias: number;
  /** The sum of all components: direction . ln_final(resid) at m, i.e. logit(target) - logit(wrong), or logit(target). */
  total: number;
}

export interface Inspection {
  /** The metric position and the direction DLA projects on, per pair (wrong is null unless logit_diff). */
  position: number;
  direction: { target: number; wrong: number | null }[];
  /** The experiment's metric (mean over pairs) of the clean and corrupted runs. */
  metric: { clean: number; corrupted: number };
  /** [pair][rank]: top-k next tokens at the metric position. */
  predictions: { clean: TokenScore[][]; corrupted: TokenScore[][] };
  dla: { clean: DirectLogitAttribution; corrupted: DirectLogitAttribution };
  /**
   * [layer][rank] for the lens pair; entry 0 reads blocks.0.hook_resid_pre (the embeddings), entry l + 1
   * blocks.{l}.hook_resid_post. Each residual goes through ln_final with its own scale (TransformerLens's
   * accumulated_resid(apply_ln=True)), so the last entry equals the model's prediction.
   */
  logitLens: { pair: number; hooks: string[]; clean: TokenScore[][]; corrupted: TokenScore[][] };
}

/** The position DLA and the lens read: the last metric position. */
export function inspectPosition(exp: Experiment): number {
  return exp.positions[exp.positions.length - 1];
}

export function lensHooks(cfg: GPT2Config): string[] {
  return ['blocks.0.hook_resid_pre', ...Array.from({ length: cfg.nLayers }, (_, l) => `blocks.${l}.hook_resid_post`)];
}

export function inspectGraph(cfg: GPT2Config, exp: Experiment): Graph {
  const g = new Graph('inspect');
  const w = weightInputs(g, cfg);
  const W = (name: string) => w.get(name)!;
  const [N, P, L, H, D] = [exp.nPairs, exp.nPos, cfg.nLayers, cfg.nHeads, cfg.dModel];
  const m = inspectPosition(exp);
  const tokens = Concat([g.input('tokens.clean', [N, P], 'int64'), g.input('tokens.corrupted', [N, P], 'int64')], 0); // [2N, pos]
  const mIn = metricInputs(g, cfg, exp);
  const ids = g.input('inspect.ids', [N, 2], 'int64'); // (target, wrong) per pair
  const signs = g.input('inspect.signs', [N, 2, 1]); // (+1, -1) for logit_diff, else (+1, 0)
  const lensRows = g.input('inspect.lens_rows', [2], 'int64'); // (pair, N + pair)

  const at = new Map<string, Tensor>(); // hook -> its value at position m, [2N, ...]
  const kept = new Set(['hook_embed', 'hook_pos_embed', 'ln_final.hook_scale', ...lensHooks(cfg),
    ...Array.from({ length: L }, (_, l) => [`blocks.${l}.attn.hook_z`, `blocks.${l}.hook_mlp_out`]).flat()]);
  const cap = metricCapture(cfg, exp);
  const lnOut = gpt2Forward(cfg, w, tokens, cap.wrap((name, t) => {
    if (kept.has(name)) at.set(name, Reshape(Slice(t, 1, m, m + 1), [2 * N, ...t.shape.slice(2)]));
    return t;
  }));
  const rows = metricRows(cfg, w, lnOut, exp, mIn, cap); // [2N]: row s * N + b, s = 0 clean, 1 corrupted
  g.output(rows, 'inspect.metric');
  g.output(Reshape(unembed(cfg, w, Slice(lnOut, 1, m, m + 1)), [2 * N, cfg.dVocab]), 'inspect.logits');

  // u = gamma * d, centred: c . (u - mean(u)) = (c - mean(c)) . u, so no component needs centring of its own.
  const dir = ReduceSum(Mul(Gather(W('wte.weight'), ids), signs), [1]); // [N, d_model]
  const dir2 = Concat([dir, dir], 0); // [2N, d_model]
  const u = Mul(dir2, W('ln_f.weight'));
  const uc = Sub(u, meanLast(u));
  const scale = at.get('ln_final.hook_scale')!; // [2N, 1]
  const byScale = (t: Tensor) => Div(t, Reshape(scale, [2 * N, ...t.shape.slice(1).map(() => 1)])); // per row
  const project = (c: Tensor) => Reshape(ReduceSum(Mul(c, uc), [-1], true), [2 * N]); // [2N or 1, d_model] . u_c -> [2N]
  const heads: Tensor[] = [];
  const mlps: Tensor[] = [];
  const biases: Tensor[] = [];
  for (let l = 0; l < L; l++) {
    // z [2N, head_index * d_head] (head-major) times W_O u_c [2N, head_index * d_head], summed within each head.
    const wo = GemmTransB(uc, W(`h.${l}.attn.c_proj.weight`)); // [2N, d_model] @ W_O^T: [2N, head_index * d_head]
    const z = Reshape(at.get(`blocks.${l}.attn.hook_z`)!, [2 * N, D]);
    heads.push(Reshape(ReduceSum(Reshape(Mul(z, wo), [2 * N, H, cfg.dHead]), [2]), [2 * N, 1, H])); // [2N, 1, head_index]
    mlps.push(Reshape(project(at.get(`blocks.${l}.hook_mlp_out`)!), [2 * N, 1]));
    biases.push(Reshape(W(`h.${l}.attn.c_proj.bias`), [1, D]));
  }
  g.output(byScale(Concat(heads, 1)), 'dla.heads'); // [2N, layer, head_index]
  g.output(byScale(Concat(mlps, 1)), 'dla.mlps'); // [2N, layer]
  g.output(byScale(project(Add(at.get('hook_embed')!, at.get('hook_pos_embed')!))), 'dla.embed'); // [2N]
  g.output(byScale(project(ReduceSum(Concat(biases, 0), [0], true))), 'dla.attn_bias'); // [2N]
  g.output(Reshape(ReduceSum(Mul(dir2, W('ln_f.bias')), [-1]), [2 * N]), 'dla.ln_final_bias'); // [2N]

  // Logit lens of one pair: [2, layer + 1, d_model] through ln_final (each residual with its own scale) and W_U.
  const stack = Concat(lensHooks(cfg).map((h) => Reshape(at.get(h)!, [2 * N, 1, D])), 1); // [2N, layer + 1, d_model]
  const picked = Gather(stack, lensRows); // [2, layer + 1, d_model]
  const lens = layerNorm(picked, W('ln_f.weight'), W('ln_f.bias'), cfg.layerNormEps).out;
  g.output(unembed(cfg, w, lens), 'lens.logits'); // [2, layer + 1, d_vocab]
  return g;
}

function checkOptions(cfg: GPT2Config, exp: Experiment, opts: InspectOptions): { pair: number; k: number } {
  const pair = opts.lensPair ?? 0;
  const k = opts.k ?? 5;
  const { name } = exp.spec.metric;
  if (name === 'attn' || name === 'prefix' || name === 'neuron')
    throw new Error(`Inspect's logit lens and direct logit attribution follow the metric's answer token; the ${name} metric has none. Inspect with a metric on the logits (logit_diff, logprob, ...) or dla.`);
  if (!Number.isInteger(pair) || pair < 0 || pair >= exp.nPairs)
    throw new Error(`The logit lens pair ${pair} is not one of the experiment's pairs (0..${exp.nPairs - 1}).`);
  if (!Number.isInteger(k) || k < 1 || k > cfg.dVocab) throw new Error(`Top-k needs a whole k from 1 to the vocabulary size ${cfg.dVocab}; got ${k}.`);
  return { pair, k };
}

/** The direction's token ids per pair (target, wrong or null). */
export function inspectDirection(exp: Experiment): { target: number; wrong: number | null }[] {
  const last = exp.positions.length - 1;
  return exp.clean.map((_, b) => ({
    target: metricTargets(exp, b)[last],
    wrong: exp.spec.metric.name === 'logit_diff' || (exp.spec.metric.name === 'dla' && exp.wrongs[b] >= 0) ? exp.wrongs[b] : null,
  }));
}

export async function runInspection(rt: Runtime, cfg: GPT2Config, exp: Experiment, opts: InspectOptions = {}): Promise<Inspection> {
  const { pair, k } = checkOptions(cfg, exp, opts);
  const [N, L, H, V] = [exp.nPairs, cfg.nLayers, cfg.nHeads, cfg.dVocab];
  const direction = inspectDirection(exp);
  const key = `inspect:${cfg.name}:${exp.nPairs}x${exp.nPos}:${inspectPosition(exp)}:${formatMetric(exp.spec.metric)}:${exp.positions.join('.')}`;
  const out = await rt.run(key, () => inspectGraph(cfg, exp), {
    'tokens.clean': tokenFeed(exp.clean),
    'tokens.corrupted': tokenFeed(exp.corrupted),
    ...metricFeeds(cfg, exp),
    'inspect.ids': int64Feed(direction.flatMap((d) => [d.target, d.wrong ?? d.target]), [N, 2]),
    'inspect.signs': { dtype: 'float32', shape: [N, 2, 1], data: Float32Array.from(direction.flatMap((d) => [1, d.wrong === null ? 0 : -1])) },
    'inspect.lens_rows': int64Feed([pair, N + pair], [2]),
  });

  // Mean over the pairs of run s (0 clean, 1 corrupted) of an output [2N, ...rest] with `per` values per row.
  const mean = (t: Fetched, s: number, per: number) => {
    const r = new Float64Array(per);
    for (let b = 0; b < N; b++) for (let i = 0; i < per; i++) r[i] += t.data[(s * N + b) * per + i] / N;
    return r;
  };
  const dla = (s: number): DirectLogitAttribution => {
    const heads = mean(out['dla.heads'], s, L * H);
    const mlps = mean(out['dla.mlps'], s, L);
    const [embed, attnBias, lnFinalBias] = ['dla.embed', 'dla.attn_bias', 'dla.ln_final_bias'].map((n) => mean(out[n], s, 1)[0]);
    const total = heads.reduce((a, x) => a + x, 0) + mlps.reduce((a, x) => a + x, 0) + embed + attnBias + lnFinalBias;
    return { heads: { axes: ['layer', 'head'], shape: [L, H], data: heads }, mlps: { axes: ['layer'], shape: [L], data: mlps }, embed, attnBias, lnFinalBias, total };
  };
  const rows = (t: Fetched, first: number, n: number) => Array.from({ length: n }, (_, r) => topTokens(t.data.subarray((first + r) * V, (first + r + 1) * V), k));
  const lens = out['lens.logits']; // [2, layer + 1, d_vocab]
  return {
    position: inspectPosition(exp),
    direction,
    metric: { clean: mean(out['inspect.metric'], 0, 1)[0], corrupted: mean(out['inspect.metric'], 1, 1)[0] },
    predictions: { clean: rows(out['inspect.logits'], 0, N), corrupted: rows(out['inspect.logits'], N, N) },
    dla: { clean: dla(0), corrupted: dla(1) },
    logitLens: { pair, hooks: lensHooks(cfg), clean: rows(lens, 0, L + 1), corrupted: rows(lens, L + 1, L + 1) },
  };
}

/**
 * The k largest logits of one row (ties: the lower id first) with their probabilities, softmax over the whole row
 * in float64 (max subtracted).
 */
export function topTokens(logits: ArrayLike<number>, k: number): TokenScore[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const best: number[] = []; // ids, best first
  for (let i = 0; i < logits.length; i++) {
    if (best.length === k && logits[i] <= logits[best[k - 1]]) continue;
    let j = best.length;
    while (j > 0 && logits[best[j - 1]] < logits[i]) j--;
    best.splice(j, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((id) => ({ id, logit: logits[id], prob: Math.exp(logits[id] - max) / sum }));
}
