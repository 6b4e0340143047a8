// Metrics on internal activations as graph code (definitions: metric-spec.ts). Every forward that feeds a metric
// wraps its hook with `metricCapture`, which records the value the hook RETURNS at the metric's hook (after any
// patch), and metricRows (metrics.ts) reads that value instead of ln_final's output:
//   metric row = sum over the hook's entries at the metric rows of captured * coef
// with `metric.coef` fed per pair (attn: one-hot at (head, key) [N, head_index, 1, key_pos]; prefix: the key mask
// over the head's (query, key) divided by the number of queries [N, head_index, pos, key_pos]; neuron: one-hot
// [N, 1, d_mlp]), and for dla z[b, -1, H] @ W_O[H] dotted with `metric.dir` [N, d_model], the centred
// ln_f.weight * (W_U[:, answer] - W_U[:, wrong]) divided by the clean run's ln_final scale (prepareInternalMetric).
// The metric rows (exp.positions) are the query / position / last position / every position; they index the hook's
// position axis exactly as they index ln_final's output (inputs `metric.positions`, counted from a suffix's start).
import { Div, Gather, Graph, MatMul, Mul, ReduceSum, Reshape, Slice, Sub, type Tensor } from '../graph';
import { atRows, gpt2Forward, weightInputs, type Hook, type WeightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { int64Feed, type Feed, type Runtime } from '../runtime/types';
import { runSymbolic, sizesWithin } from '../runtime/symbolic';
import { prefixKeys, type Experiment } from './experiment';
import { familyShape, hookFor, type Family } from './families';
import type { Labelled } from './labelled';
import { isInternalMetric, metricHook, notUpstream } from './metric-spec';

/** Records the metric's hook value in one forward pass. */
export interface MetricCapture {
  wrap(hook: Hook): Hook;
  /** The recorded value; `selected`: its position axis holds the metric rows only (the last layer trimmed). */
  value?: Tensor;
  selected: boolean;
}

/**
 * `trimmed`: the forward runs with finalRows = the metric rows, so a hook in the last layer holds those rows only.
 * Logit metrics capture nothing.
 */
export function metricCapture(cfg: GPT2Config, exp: Experiment, trimmed = false): MetricCapture {
  const hookName = metricHook(exp.spec.metric);
  const c: MetricCapture = {
    selected: trimmed && exp.spec.metric.site?.layer === cfg.nLayers - 1,
    wrap: (inner) => (name, t) => {
      const v = inner(name, t);
      if (name === hookName) c.value = v;
      return v;
    },
  };
  return c;
}

/** The graph inputs of an internal metric (fed by internalMetricFeeds). */
export function internalInputs(g: Graph, cfg: GPT2Config, exp: Experiment): { coef: Tensor } {
  const [N, P, H] = [exp.nPairs, exp.nPos, cfg.nHeads];
  switch (exp.spec.metric.name) {
    case 'attn': return { coef: g.input('metric.coef', [N, H, 1, P]) };
    case 'prefix': return { coef: g.input('metric.coef', [N, H, P, P]) };
    case 'neuron': return { coef: g.input('metric.coef', [N, 1, cfg.dMlp]) };
    case 'dla': return { coef: g.input('metric.dir', [N, cfg.dModel]) };
    default: throw new Error(`${exp.spec.metric.name} is not an internal metric.`);
  }
}

export function internalFeeds(cfg: GPT2Config, exp: Experiment): Record<string, Feed> {
  const [N, P, H] = [exp.nPairs, exp.nPos, cfg.nHeads];
  const { name, site } = exp.spec.metric;
  const s = site!;
  if (name === 'dla') {
    if (!exp.dlaDirection) throw new Error('The dla metric needs its direction first: await prepareMetric(rt, cfg, exp).');
    return { 'metric.dir': { dtype: 'float32', shape: [N, cfg.dModel], data: exp.dlaDirection } };
  }
  if (name === 'attn') {
    const coef = new Float32Array(N * H * P);
    for (let b = 0; b < N; b++) coef[(b * H + s.head!) * P + s.key!] = 1;
    return { 'metric.coef': { dtype: 'float32', shape: [N, H, 1, P], data: coef } };
  }
  if (name === 'neuron') {
    const coef = new Float32Array(N * cfg.dMlp);
    for (let b = 0; b < N; b++) coef[b * cfg.dMlp + s.neuron!] = 1;
    return { 'metric.coef': { dtype: 'float32', shape: [N, 1, cfg.dMlp], data: coef } };
  }
  if (name === 'prefix') {
    const coef = new Float32Array(N * H * P * P);
    for (let b = 0; b < N; b++) {
      const keys = prefixKeys(exp.clean[b]);
      const queries = new Set(keys.map(([i]) => i)).size;
      if (queries === 0) throw new Error(`Pair ${b + 1}: the clean prompt repeats no token, so the prefix-matching score has no query.`);
      for (const [i, j] of keys) coef[((b * H + s.head!) * P + i) * P + j] = 1 / queries;
    }
    return { 'metric.coef': { dtype: 'float32', shape: [N, H, P, P], data: coef } };
  }
  throw new Error(`${name} is not an internal metric.`);
}

/** The metric for every row (patch-major, rows = S x nPairs) from the captured hook value. */
export function internalRows(cfg: GPT2Config, w: WeightInputs, capture: MetricCapture, exp: Experiment, coef: Tensor, positions?: Tensor): Tensor {
  const { name, site } = exp.spec.metric;
  const hook = metricHook(exp.spec.metric)!;
  const x = capture.value;
  if (!x) throw new Error(`The ${name} metric reads ${hook}, which this graph does not compute.`);
  const N = exp.nPairs;
  const rows = x.shape[0];
  const S = rows / N;
  // Position axis: the query axis (2) of the pattern [batch, head_index, query_pos, key_pos]; 1 otherwise.
  const posAxis = name === 'attn' || name === 'prefix' ? 2 : 1;
  const at = (t: Tensor) => {
    if (capture.selected) return t;
    if (positions) return posAxis === 1 ? atRows(t, positions) : Reshape(atRows(Reshape(t, [rows * cfg.nHeads, ...t.shape.slice(2)]), positions), [rows, cfg.nHeads, positions.shape[0], t.shape[3]]);
    return sliceAt(t, posAxis, exp.positions);
  };
  const sel = at(x);
  const perPair = (t: Tensor) => Reshape(t, [S, N, ...t.shape.slice(1)]);
  if (name === 'dla') {
    // z [rows, 1, head_index, d_head] at the last position -> head H's output [rows, d_model] (no b_O).
    const { dHead: dh, dModel: D } = cfg;
    const zH = Reshape(Slice(sel, 2, site!.head!, site!.head! + 1), [rows, dh]);
    const WO = Slice(w.get(`h.${site!.layer}.attn.c_proj.weight`)!, 0, site!.head! * dh, (site!.head! + 1) * dh); // [d_head, d_model]
    const out = Reshape(MatMul(zH, WO), [S, N, D]);
    return Reshape(ReduceSum(Mul(out, coef), [2]), [rows]);
  }
  const prod = Mul(perPair(sel), coef); // coef [N, ...] broadcasts over patches
  return Reshape(ReduceSum(prod, prod.shape.slice(2).map((_, i) => i + 2)), [rows]);
}

function sliceAt(t: Tensor, axis: number, positions: readonly number[]): Tensor {
  if (positions.length !== 1) throw new Error('internal metric rows: several constant positions need the positions input');
  return Slice(t, axis, positions[0], positions[0] + 1);
}

/**
 * dla's fixed direction per pair [N, d_model]: ln_f.weight * (W_U[:, answer] - W_U[:, wrong]), centred, divided
 * by the clean run's ln_final.hook_scale at the last position. Sets exp.dlaDirection.
 */
export async function prepareInternalMetric(rt: Runtime, cfg: GPT2Config, exp: Experiment): Promise<Experiment> {
  if (exp.spec.metric.name !== 'dla' || exp.dlaDirection) return exp;
  const [N, P, D] = [exp.nPairs, exp.nPos, cfg.dModel];
  const sizes = sizesWithin(cfg.nCtx, P, [{ name: 'SYM_POS', value: P }]);
  const out = await runSymbolic(rt, `dla-direction:${cfg.name}:${N}`, sizes, ([pos]) => {
    const g = new Graph('dla-direction');
    const w = weightInputs(g, cfg);
    let scale: Tensor | undefined;
    gpt2Forward(cfg, w, g.input('tokens', [N, pos], 'int64'), (name, t) => {
      if (name === 'ln_final.hook_scale') scale = t; // [N, pos, 1]
      return t;
    });
    const last = Reshape(Slice(scale!, 1, pos - 1, pos), [N, 1]);
    const WU = w.get('wte.weight')!; // [d_vocab, d_model]: W_U^T
    const u = Sub(Gather(WU, g.input('answer', [N], 'int64')), Mul(Gather(WU, g.input('wrong', [N], 'int64')), g.input('wrong.weight', [N, 1])));
    const v = Mul(u, w.get('ln_f.weight')!); // [N, d_model]
    const centred = Sub(v, Mul(ReduceSum(v, [1], true), 1 / D));
    g.output(Div(centred, last), 'dir');
    return g;
  }, {
    tokens: int64Feed(exp.clean.flat(), [N, P]),
    answer: int64Feed(exp.answers, [N]),
    wrong: int64Feed(exp.wrongs.map((t) => Math.max(t, 0)), [N]),
    'wrong.weight': { dtype: 'float32', shape: [N, 1], data: Float32Array.from(exp.wrongs, (t) => (t >= 0 ? 1 : 0)) },
  });
  exp.dlaDirection = Float32Array.from(out.dir.data);
  return exp;
}

/**
 * Cells whose hook is not upstream of the metric become NaN ("not upstream", never 0), in place; returns a mask in
 * the family's layout (1 = not upstream) or undefined when every cell is upstream. The layer is the first axis.
 */
export function maskNotUpstream(cfg: GPT2Config, exp: Experiment, family: Family, values: Labelled | undefined): Uint8Array | undefined {
  if (!isInternalMetric(exp.spec.metric.name)) return undefined;
  const shape = familyShape(family, cfg, exp.nPos);
  const perLayer = shape.slice(1).reduce((a, b) => a * b, 1);
  const mask = new Uint8Array(perLayer * shape[0]);
  for (let l = 0; l < shape[0]; l++) if (notUpstream(exp.spec.metric, hookFor(family, l))) mask.fill(1, l * perLayer, (l + 1) * perLayer);
  if (values) mask.forEach((m, i) => m && (values.data[i] = NaN));
  return mask;
}
