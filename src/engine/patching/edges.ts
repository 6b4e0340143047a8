// Edges (issue #10): which component's output feeds which later component's input. Names follow EAP-IG
// (hannamw/EAP-IG). This file: the graph of nodes and edges, edge names, and edge attribution; circuit.ts: the exact
// measures (path patching, circuit evaluation).
//
// Senders: `input` (blocks.0.hook_resid_pre), `a{l}.h{h}` (blocks.l.attn.hook_result, z @ W_O per head, no b_O),
// `m{l}` (blocks.l.hook_mlp_out). Receivers: `a{l}.h{h}<q|k|v>` (blocks.l.hook_{q,k,v}_input, the residual stream
// that head's query, key or value reads before ln1), `m{l}` (blocks.l.hook_mlp_in), `logits` (the final residual
// stream before ln_final). Every receiver's input is the sum of its senders' outputs plus constant biases (b_O).
import { Add, Concat, Expand, Graph, MatMul, Mul, ReduceSum, Reshape, Slice, Sub, Transpose, Where, grad, stopGradient, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Runtime } from '../runtime/types';
import { experimentKey, tokenFeed } from './attribution';
import { magnitudeMean, qkFixEdges } from './edge-estimators';
import { ESTIMATORS, checkMethod, type Method } from './estimators';
import type { Experiment } from './experiment';
import { meanOf, metricFeeds, metricInputs, metricOf, metricRows } from './metrics';
import { metricCapture } from './internal-metric';
import { isInternalMetric, metricHook, notUpstream } from './metric-spec';
import type { CellPatch } from './node-sets';

// ---------------------------------------------------------------------------------------------------------------
// The graph of nodes and edges

export interface EdgeLayout {
  /** input, then per layer a{l}.h0 .. a{l}.h{H-1}, m{l}. */
  senders: string[];
  /** Per layer a{l}.h*<q>, a{l}.h*<k>, a{l}.h*<v>, m{l}; then logits. */
  receivers: string[];
  /** Per receiver: how many senders (a prefix of `senders`) are upstream of it, i.e. feed it. */
  upstream: number[];
}

export function edgeLayout(cfg: GPT2Config): EdgeLayout {
  const { nLayers: L, nHeads: H } = cfg;
  const senders = ['input'];
  const receivers: string[] = [];
  const upstream: number[] = [];
  for (let l = 0; l < L; l++) {
    const before = senders.length;
    for (const x of ['q', 'k', 'v'])
      for (let h = 0; h < H; h++) {
        receivers.push(`a${l}.h${h}<${x}>`);
        upstream.push(before);
      }
    for (let h = 0; h < H; h++) senders.push(`a${l}.h${h}`);
    receivers.push(`m${l}`);
    upstream.push(senders.length);
    senders.push(`m${l}`);
  }
  receivers.push('logits');
  upstream.push(senders.length);
  return { senders, receivers, upstream };
}

/** First receiver index of layer l's attention receivers (q of head 0); its MLP receiver is at + 3H. */
export const layerReceiver = (cfg: GPT2Config, l: number) => l * (3 * cfg.nHeads + 1);

export interface Edge {
  sender: number;
  receiver: number;
}

export class EdgeNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EdgeNameError';
  }
}

/** Parses `a0.h1->a1.h0<k>` into indices of edgeLayout(cfg), with a message that says what is wrong. */
export function parseEdge(cfg: GPT2Config, name: string): Edge {
  const { nLayers: L, nHeads: H } = cfg;
  const parts = name.trim().split('->');
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new EdgeNameError(`Edge "${name}" is not of the form sender->receiver, e.g. a0.h1->a1.h0<k> or m0->logits.`);
  const [s, r] = parts.map((p) => p.trim());
  const checkLayer = (what: string, l: number) => {
    if (l >= L) throw new EdgeNameError(`Edge "${name}": ${what} names layer ${l}, but the model has layers 0..${L - 1}.`);
  };
  const checkHead = (what: string, h: number) => {
    if (h >= H) throw new EdgeNameError(`Edge "${name}": ${what} names head ${h}, but the model has heads 0..${H - 1} per layer.`);
  };
  // Sender
  let sender: number;
  let senderLayer: number; // -1 for input
  let senderIsHead = false;
  let m: RegExpMatchArray | null;
  if (s === 'input') [sender, senderLayer] = [0, -1];
  else if ((m = s.match(/^a(\d+)\.h(\d+)$/))) {
    const [l, h] = [+m[1], +m[2]];
    checkLayer(`sender ${s}`, l);
    checkHead(`sender ${s}`, h);
    [sender, senderLayer, senderIsHead] = [1 + l * (H + 1) + h, l, true];
  } else if ((m = s.match(/^m(\d+)$/))) {
    const l = +m[1];
    checkLayer(`sender ${s}`, l);
    [sender, senderLayer] = [1 + l * (H + 1) + H, l];
  } else throw new EdgeNameError(`Edge "${name}": unknown sender "${s}"; senders are input, a{layer}.h{head} and m{layer}.`);
  // Receiver
  let receiver: number;
  let receiverLayer: number; // L for logits
  let receiverIsMlp = false;
  if (r === 'logits') [receiver, receiverLayer] = [layerReceiver(cfg, L), L];
  else if ((m = r.match(/^a(\d+)\.h(\d+)<([qkv])>$/))) {
    const [l, h] = [+m[1], +m[2]];
    checkLayer(`receiver ${r}`, l);
    checkHead(`receiver ${r}`, h);
    [receiver, receiverLayer] = [layerReceiver(cfg, l) + 'qkv'.indexOf(m[3]) * H + h, l];
  } else if ((m = r.match(/^m(\d+)$/))) {
    const l = +m[1];
    checkLayer(`receiver ${r}`, l);
    [receiver, receiverLayer, receiverIsMlp] = [layerReceiver(cfg, l) + 3 * H, l, true];
  } else
    throw new EdgeNameError(`Edge "${name}": unknown receiver "${r}"; receivers are a{layer}.h{head}<q>, <k> or <v>, m{layer} and logits.`);
  const upstream = senderLayer < receiverLayer || (senderIsHead && receiverIsMlp && senderLayer === receiverLayer);
  if (!upstream)
    throw new EdgeNameError(`There is no edge "${name}": ${s} is not upstream of ${r} (a head feeds later layers, its own layer's MLP and logits; an MLP feeds later layers and logits).`);
  return { sender, receiver };
}

export function parseEdges(cfg: GPT2Config, list: string[]): Edge[] {
  if (!list.length) throw new EdgeNameError('No edges given; name them like a0.h1->a1.h0<k>,input->m0.');
  return list.map((n) => parseEdge(cfg, n));
}

export function edgeName(layout: EdgeLayout, e: Edge): string {
  return `${layout.senders[e.sender]}->${layout.receivers[e.receiver]}`;
}

/** Every edge of the graph, receiver-major. */
export function allEdges(layout: EdgeLayout): Edge[] {
  const out: Edge[] = [];
  layout.upstream.forEach((n, receiver) => {
    for (let sender = 0; sender < n; sender++) out.push({ sender, receiver });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Edge attribution: one source forward, one base forward, one backward pass, one matmul

export interface EdgeScores {
  metric: { clean: number; corrupted: number };
  layout: EdgeLayout;
  /** [sender][receiver], row-major; 0 where there is no edge. */
  edges: Float64Array;
  /** Per receiver: (in_v[source] - in_v[base]) . dM/d(in_v), which the receiver's edges sum to (atp, ig-inputs). */
  receiverTotals: Float64Array;
  method: Method;
  steps: number;
}

export const unsqueeze2 = (t: Tensor) => Reshape(t, [t.shape[0], t.shape[1], 1, t.shape[2]]); // [batch, pos, 1, d_model]

export interface EdgeTaps {
  /** Sender outputs in sender order, each [batch, pos, n, d_model]. */
  senders: Tensor[];
  /** Receiver inputs in receiver order, as the hooks saw them: [batch, pos, head_index | -, d_model]. */
  inputs: Tensor[];
}

/**
 * A gpt2Forward hook (with edgeHooks) that records senders and receiver inputs in layout order; `freeze` may
 * replace any hook's value first (stopGradient for frozen LayerNorm scales). Estimators that need other passes
 * (integrated gradients, GradDrop) build on it and on `edgeScoreTensors`.
 */
export function tapEdges(cfg: GPT2Config, taps: EdgeTaps, freeze: (name: string, t: Tensor) => Tensor = (_n, t) => t) {
  const last = `blocks.${cfg.nLayers - 1}.hook_resid_post`;
  return (name: string, t: Tensor): Tensor => {
    const v = freeze(name, t);
    if (name === 'blocks.0.hook_resid_pre' || name.endsWith('hook_mlp_out')) taps.senders.push(unsqueeze2(v));
    else if (name.endsWith('attn.hook_result')) taps.senders.push(v);
    else if (/hook_[qkv]_input$|hook_mlp_in$/.test(name) || name === last) taps.inputs.push(v);
    return v;
  };
}

/** Receiver inputs (or their gradients) as one [batch, pos, receivers, d_model] tensor. */
export const stackInputs = (inputs: Tensor[]) => Concat(inputs.map((t) => (t.rank === 3 ? unsqueeze2(t) : t)), 2);

/**
 * Every (sender, receiver) score at once: sum over batch, pos and d_model of dSenders[.., u, :] * G[.., v, :], as
 * one matmul [S, batch x pos x d_model] x [batch x pos x d_model, R] -> [S, R].
 */
export function edgeScoreTensors(dSenders: Tensor, G: Tensor): Tensor {
  const [N, P, S, D] = dSenders.shape;
  const R = G.shape[2];
  return MatMul(Reshape(Transpose(dSenders, [2, 0, 1, 3]), [S, N * P * D]), Reshape(Transpose(G, [0, 1, 3, 2]), [N * P * D, R]));
}

/**
 * Edge scores by one estimator (estimators.ts). Plain AtP: one source forward, one base forward, one backward pass
 * and one matmul. GradDrop and AtP* take R = L copies of the base run (copy l passes no gradient through layer l's
 * attn_out and mlp_out into their inputs) and average |score| per copy and pair; IG on the inputs takes R = m copies
 * with the embeddings interpolated from base towards source (EAP-IG); the QK fix replaces the scores of edges into
 * queries and keys (edge-estimators.ts). ig-layer is defined per node family and layer, not for edges.
 */
export function edgeAttributionGraph(cfg: GPT2Config, exp: Experiment, method: Method = 'atp', steps = 1, patched?: CellPatch): Graph {
  if (patched && method !== 'atp') throw new Error(`Edge attribution on a patched run is plain AtP only, not ${method}.`);
  if (method === 'ig-layer') throw new Error('ig-layer interpolates one node family at one layer; it has no edge form: use ig-inputs (EAP-IG) for edges.');
  const g = new Graph('edges');
  const w = weightInputs(g, cfg);
  const [N, P, L] = [exp.nPairs, exp.nPos, cfg.nLayers];
  const { freezeLayerNorm, freezeAttention } = exp.spec.options;
  const denoising = exp.spec.direction === 'denoising';
  const mIn = metricInputs(g, cfg, exp);
  const frozen = (name: string) => (freezeLayerNorm && name.endsWith('hook_scale')) || (freezeAttention && name.endsWith('hook_pattern'));
  const dropping = method === 'graddrop' || method === 'atp-star';
  if (dropping && L < 2) throw new Error(`${method} needs a model of at least 2 layers (it averages over L - 1).`);
  if (dropping && isInternalMetric(exp.spec.metric.name))
    throw new Error(`The ${method} estimator is not available for the ${exp.spec.metric.name} metric yet; use atp, qk-fix or ig-inputs.`);
  const qkFixed = method === 'qk-fix' || method === 'atp-star';
  const R = dropping ? L : method === 'ig-inputs' ? steps : 1;
  const tileR = (t: Tensor) => (R === 1 ? t : Reshape(Expand(Reshape(t, [1, ...t.shape]), [R, ...t.shape]), [R * N, ...t.shape.slice(1)]));
  const first = (t: Tensor) => (R === 1 ? t : Slice(t, 0, 0, N)); // copy 0: the base run itself
  const perCopy = (f: (copy: number) => number, dtype: 'float32' | 'bool' = 'float32') =>
    g.constant(Array.from({ length: R * N }, (_, i) => f(Math.floor(i / N))), [R * N, 1, 1], dtype);

  const [sourceRole, baseRole] = denoising ? (['clean', 'corrupted'] as const) : (['corrupted', 'clean'] as const);
  const srcTaps: EdgeTaps = { senders: [], inputs: [] };
  // With cells patched on top (node-sets.ts), the source run keeps their hooks' values and the base run takes them.
  const patchHooks = new Set(patched?.hooks);
  const patchSrc = new Map<string, Tensor>();
  const keep = (name: string, t: Tensor) => (patchHooks.has(name) && patchSrc.set(name, t), t);
  const srcRows = metricOf(cfg, w, exp, mIn, (wrap) =>
    gpt2Forward(cfg, w, g.input(`tokens.${sourceRole}`, [N, P], 'int64'), wrap(tapEdges(cfg, srcTaps, keep)), { edgeHooks: true }));
  g.output(meanOf(srcRows), `metric.${sourceRole}`);

  const alpha = method === 'ig-inputs' ? perCopy((k) => k / steps) : undefined;
  const attn = new Map<string, Tensor>(); // base q, k, pattern by hook name, for the QK fix
  const edit = (name: string, t: Tensor): Tensor => {
    let v = patched && patchHooks.has(name) ? patched.replace(name, t, patchSrc.get(name)!) : t;
    if (alpha && name === 'blocks.0.hook_resid_pre') v = Add(v, Mul(alpha, Sub(tileR(Reshape(srcTaps.senders[0], [N, P, cfg.dModel])), v)));
    const drop = dropping ? /^blocks\.(\d+)\.hook_(attn|mlp)_out$/.exec(name) : null;
    if (drop) v = Where(perCopy((copy) => +(copy === +drop[1]), 'bool'), stopGradient(v), v);
    if (name === ownHook) baseCap.value = v; // before any freeze: the metric keeps its own gradient
    if (frozen(name)) v = stopGradient(v);
    if (qkFixed && /attn\.hook_(q|k|pattern)$/.test(name)) attn.set(name, v);
    return v;
  };
  const taps: EdgeTaps = { senders: [], inputs: [] };
  const ownHook = metricHook(exp.spec.metric);
  const baseCap = metricCapture(cfg, exp);
  const baseOut = gpt2Forward(cfg, w, tileR(g.input(`tokens.${baseRole}`, [N, P], 'int64')), tapEdges(cfg, taps, edit), { edgeHooks: true });
  const rows = metricRows(cfg, w, baseOut, exp, mIn, baseCap); // [R * N]
  g.output(meanOf(R === 1 ? rows : Slice(rows, 0, 0, N)), `metric.${baseRole}`);

  // dM/d(in_v) for every receiver at once (each receiver's input is its own tensor), and dM/dA for the QK fix. The
  // loss is the mean over all R x N rows, so summing a score over rows gives the mean over copies and pairs.
  const patterns = qkFixed ? Array.from({ length: L }, (_, l) => attn.get(`blocks.${l}.attn.hook_pattern`)!) : [];
  const grads = grad(meanOf(rows), [...taps.inputs, ...patterns]).map((gr, i) => gr ?? Mul([...taps.inputs, ...patterns][i], 0));
  const G = stackInputs(grads.slice(0, taps.inputs.length)); // [R * N, P, receivers, d_model]
  const dSenders = Sub(Concat(srcTaps.senders, 2), first(Concat(taps.senders, 2))); // [N, P, S, d_model]
  const signed = ESTIMATORS[method].signed;
  const layout = edgeLayout(cfg);
  const [S, Rv] = [layout.senders.length, layout.receivers.length];
  // Per copy and pair [R * N, S, Rv] (unsigned) or summed [S, Rv] (signed).
  let scores: Tensor;
  if (signed) scores = edgeScoreTensors(tileR(dSenders), G);
  else {
    const dS = Reshape(Transpose(tileR(dSenders), [0, 2, 1, 3]), [R * N, S, P * cfg.dModel]);
    scores = MatMul(dS, Reshape(Transpose(G, [0, 1, 3, 2]), [R * N, P * cfg.dModel, Rv])); // [R * N, S, Rv]
  }
  if (qkFixed) {
    const { nHeads: H } = cfg;
    const blocks: Tensor[] = [];
    for (let l = 0; l < L; l++) {
      const r0 = layerReceiver(cfg, l);
      const Sl = layout.upstream[r0];
      const input = (x: 0 | 1) => first(taps.inputs[4 * l + x]); // taps per layer: q, k, v inputs, mlp_in
      const qk = qkFixEdges(cfg, w, l, {
        inQ: input(0), inK: input(1),
        q: first(attn.get(`blocks.${l}.attn.hook_q`)!), k: first(attn.get(`blocks.${l}.attn.hook_k`)!), pattern: first(patterns[l]),
      }, Slice(dSenders, 2, 0, Sl), grads[taps.inputs.length + l], R); // [R * N, S_l, 2H]
      const full = Sl < S ? Concat([qk, g.constant(new Array(R * N * (S - Sl) * 2 * H).fill(0), [R * N, S - Sl, 2 * H])], 1) : qk;
      const cols = signed ? ReduceSum(full, [0]) : full; // [(R * N,) S, 2H]
      const ax = signed ? 1 : 2;
      blocks.push(cols, Slice(scores, ax, r0 + 2 * H, r0 + 3 * H + 1)); // q and k columns fixed; v and m as they were
    }
    blocks.push(Slice(scores, signed ? 1 : 2, Rv - 1, Rv)); // logits
    scores = Concat(blocks, signed ? 1 : 2);
  }
  g.output(signed ? scores : magnitudeMean(scores, R, L), 'edges'); // [S, Rv]
  const dInputs = Sub(stackInputs(srcTaps.inputs), first(stackInputs(taps.inputs))); // [N, P, Rv, d_model]
  g.output(ReduceSum(Mul(tileR(dInputs), G), [0, 1, 3]), 'receiver_totals'); // [Rv]: the identity's right-hand side for atp and ig-inputs
  return g;
}

/** Edge scores; with `patched`, of the base run with those cells already patched from the source run (plain AtP). */
export async function runEdgeAttribution(rt: Runtime, cfg: GPT2Config, exp: Experiment, method: Method = 'atp', steps = 1, patched?: CellPatch): Promise<EdgeScores> {
  checkMethod(method, steps);
  const o = exp.spec.options;
  const key = `edges:${cfg.name}:${experimentKey(exp)}:${exp.spec.direction}:${method}:${steps}:${+o.freezeLayerNorm}${+o.freezeAttention}:${patched?.key ?? ''}`;
  const out = await rt.run(key, () => edgeAttributionGraph(cfg, exp, method, steps, patched), {
    'tokens.clean': tokenFeed(exp.clean),
    'tokens.corrupted': tokenFeed(exp.corrupted),
    ...metricFeeds(cfg, exp),
  });
  const layout = edgeLayout(cfg);
  const R = layout.receivers.length;
  const edges = Float64Array.from(out.edges.data);
  // The matmul scores every (sender, receiver) pair; only upstream senders are edges.
  for (let s = 0; s < layout.senders.length; s++) for (let r = 0; r < R; r++) if (s >= layout.upstream[r]) edges[s * R + r] = 0;
  // Internal metrics: an edge whose receiver is not upstream of the metric is NaN ("not upstream"), as is its total.
  const receiverTotals = Float64Array.from(out.receiver_totals.data);
  layout.receivers.forEach((name, r) => {
    if (!notUpstream(exp.spec.metric, receiverHook(name))) return;
    receiverTotals[r] = NaN;
    for (let s = 0; s < layout.upstream[r]; s++) edges[s * R + r] = NaN;
  });
  return {
    metric: { clean: out['metric.clean'].data[0], corrupted: out['metric.corrupted'].data[0] },
    layout,
    edges,
    receiverTotals,
    method,
    steps,
  };
}

/** The hook a receiver reads: blocks.l.hook_{q,k,v}_input, blocks.l.hook_mlp_in, or ln_final's input for logits. */
export function receiverHook(receiver: string): string {
  let m: RegExpMatchArray | null;
  if ((m = receiver.match(/^a(\d+)\.h\d+<([qkv])>$/))) return `blocks.${m[1]}.hook_${m[2]}_input`;
  if ((m = receiver.match(/^m(\d+)$/))) return `blocks.${m[1]}.hook_mlp_in`;
  if (receiver === 'logits') return 'ln_final.hook_scale';
  throw new Error(`Unknown receiver "${receiver}".`);
}

/** Edges sorted by |score|, largest first; edges not upstream of an internal metric (NaN) are left out. */
export function rankEdges(scores: Pick<EdgeScores, 'layout' | 'edges'>): (Edge & { value: number })[] {
  const R = scores.layout.receivers.length;
  return allEdges(scores.layout)
    .map((e) => ({ ...e, value: scores.edges[e.sender * R + e.receiver] }))
    .filter((e) => !Number.isNaN(e.value))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
}
