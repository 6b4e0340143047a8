// Edges (issue #10): which component's output feeds which later component's input. Names follow EAP-IG
// (hannamw/EAP-IG). This file: the graph of nodes and edges, edge names, and edge attribution; circuit.ts: the exact
// measures (path patching, circuit evaluation).
//
// Senders: `input` (blocks.0.hook_resid_pre), `a{l}.h{h}` (blocks.l.attn.hook_result, z @ W_O per head, no b_O),
// `m{l}` (blocks.l.hook_mlp_out). Receivers: `a{l}.h{h}<q|k|v>` (blocks.l.hook_{q,k,v}_input, the residual stream
// that head's query, key or value reads before ln1), `m{l}` (blocks.l.hook_mlp_in), `logits` (the final residual
// stream before ln_final). Every receiver's input is the sum of its senders' outputs plus constant biases (b_O).
import { Concat, Graph, MatMul, Mul, ReduceSum, Reshape, Sub, Transpose, grad, stopGradient, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Runtime } from '../runtime/types';
import { experimentKey, tokenFeed } from './attribution';
import type { Experiment } from './experiment';
import { meanOf, metricFeeds, metricInputs, metricRows } from './metrics';

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
  /** Per receiver: (in_v[source] - in_v[base]) . dM/d(in_v), which the receiver's edges sum to. */
  receiverTotals: Float64Array;
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

export function edgeAttributionGraph(cfg: GPT2Config, exp: Experiment): Graph {
  const g = new Graph('edges');
  const w = weightInputs(g, cfg);
  const [N, P] = [exp.nPairs, exp.nPos];
  const { freezeLayerNorm, freezeAttention } = exp.spec.options;
  const denoising = exp.spec.direction === 'denoising';
  const mIn = metricInputs(g, cfg, exp);
  const freeze = (name: string, t: Tensor) =>
    (freezeLayerNorm && name.endsWith('hook_scale')) || (freezeAttention && name.endsWith('hook_pattern')) ? stopGradient(t) : t;

  const run = (role: 'clean' | 'corrupted', isBase: boolean) => {
    const taps: EdgeTaps = { senders: [], inputs: [] };
    const x = gpt2Forward(cfg, w, g.input(`tokens.${role}`, [N, P], 'int64'), tapEdges(cfg, taps, isBase ? freeze : undefined), { edgeHooks: true });
    const metric = meanOf(metricRows(cfg, w, x, exp, mIn));
    g.output(metric, `metric.${role}`);
    return { taps, metric };
  };
  const source = run(denoising ? 'clean' : 'corrupted', false);
  const base = run(denoising ? 'corrupted' : 'clean', true);

  // dM/d(in_v) for every receiver at once: each receiver's input is its own tensor. The metric is the mean over
  // pairs, so summing over pairs below gives the mean over pairs of each pair's score.
  const grads = grad(base.metric, base.taps.inputs).map((gr, i) => gr ?? Mul(base.taps.inputs[i], 0));
  const G = stackInputs(grads); // [N, P, R, d_model]
  const dSenders = Sub(Concat(source.taps.senders, 2), Concat(base.taps.senders, 2)); // [N, P, S, d_model]
  g.output(edgeScoreTensors(dSenders, G), 'edges'); // [S, R]
  const dInputs = Sub(stackInputs(source.taps.inputs), stackInputs(base.taps.inputs)); // [N, P, R, d_model]
  g.output(ReduceSum(Mul(dInputs, G), [0, 1, 3]), 'receiver_totals'); // [R]
  return g;
}

export async function runEdgeAttribution(rt: Runtime, cfg: GPT2Config, exp: Experiment): Promise<EdgeScores> {
  const o = exp.spec.options;
  const key = `edges:${cfg.name}:${experimentKey(exp)}:${exp.spec.direction}:${+o.freezeLayerNorm}${+o.freezeAttention}`;
  const out = await rt.run(key, () => edgeAttributionGraph(cfg, exp), {
    'tokens.clean': tokenFeed(exp.clean),
    'tokens.corrupted': tokenFeed(exp.corrupted),
    ...metricFeeds(cfg, exp),
  });
  const layout = edgeLayout(cfg);
  const R = layout.receivers.length;
  const edges = Float64Array.from(out.edges.data);
  // The matmul scores every (sender, receiver) pair; only upstream senders are edges.
  for (let s = 0; s < layout.senders.length; s++) for (let r = 0; r < R; r++) if (s >= layout.upstream[r]) edges[s * R + r] = 0;
  return {
    metric: { clean: out['metric.clean'].data[0], corrupted: out['metric.corrupted'].data[0] },
    layout,
    edges,
    receiverTotals: Float64Array.from(out.receiver_totals.data),
  };
}

/** Edges sorted by |score|, largest first. */
export function rankEdges(scores: Pick<EdgeScores, 'layout' | 'edges'>): (Edge & { value: number })[] {
  const R = scores.layout.receivers.length;
  return allEdges(scores.layout)
    .map((e) => ({ ...e, value: scores.edges[e.sender * R + e.receiver] }))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
}
