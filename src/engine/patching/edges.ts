// Edges (issue #10): which component's output feeds which later component's input, scored by attribution and
// checked by exact direct path patching and circuit evaluation. Names follow EAP-IG (hannamw/EAP-IG).
//
// Senders: `input` (blocks.0.hook_resid_pre), `a{l}.h{h}` (blocks.l.attn.hook_result, z @ W_O per head, no b_O),
// `m{l}` (blocks.l.hook_mlp_out). Receivers: `a{l}.h{h}<q|k|v>` (blocks.l.hook_{q,k,v}_input, the residual stream
// that head's query, key or value reads before ln1), `m{l}` (blocks.l.hook_mlp_in), `logits` (the final residual
// stream before ln_final). Every receiver's input is the sum of its senders' outputs plus constant biases (b_O).
//
// One edge-patched forward serves both exact measures: every receiver v reads
//   in_v(run) + sum over senders u of mask[v, u] * (A_u - a_u(run)),
// a masked matmul per layer with the mask and A fed as inputs, so one session serves every edge set of a prompt.
//   path patch of u->v: run = base, A = source activations, mask = 1 at (v, u) only; since nothing upstream of v
//                       changes, A_u - a_u(run) is the fixed a_u[source] - a_u[base], fed as data.
//   circuit C:          run = source, A = base activations, mask = 1 at every edge NOT in C.
import { Add, Concat, Expand, Graph, MatMul, Mul, ReduceSum, Reshape, Slice, Sub, Transpose, grad, stopGradient, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Fetched, Runtime } from '../runtime/types';
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
const layerReceiver = (cfg: GPT2Config, l: number) => l * (3 * cfg.nHeads + 1);

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

const unsqueeze2 = (t: Tensor) => Reshape(t, [t.shape[0], t.shape[1], 1, t.shape[2]]); // [batch, pos, 1, d_model]

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

// ---------------------------------------------------------------------------------------------------------------
// Exact measures: path patching and circuit evaluation on one edge-patched forward

export interface EdgeRunOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Edge sets per run (default: about 1024 token rows per run). */
  perRun?: number;
}

interface EdgeCache {
  /** Sender outputs [N, P, S, d_model] of the base and source runs. */
  base: Fetched;
  source: Fetched;
  metric: { base: number; source: number };
}

export class EdgePatcher {
  private caches = new Map<string, Promise<EdgeCache>>();
  readonly layout: EdgeLayout;

  constructor(
    private readonly rt: Runtime,
    private readonly cfg: GPT2Config,
  ) {
    this.layout = edgeLayout(cfg);
  }

  /** Metrics of the base and source runs (base = corrupted when denoising). */
  async metrics(exp: Experiment): Promise<{ base: number; source: number }> {
    return (await this.cache(exp)).metric;
  }

  /** Exact direct path patch of each edge alone: metric(base run, only v reads a_u[source]) - metric(base). */
  async pathPatch(exp: Experiment, edges: Edge[], opts: EdgeRunOptions = {}): Promise<Float64Array> {
    const { upstream } = this.layout;
    for (const e of edges)
      if (!(e.receiver >= 0 && e.receiver < upstream.length && e.sender >= 0 && e.sender < upstream[e.receiver]))
        throw new EdgeNameError(`(${e.sender}, ${e.receiver}) is not an edge of this model.`);
    const c = await this.cache(exp);
    // Only v's input changes, and every sender upstream of v keeps its base value, so the change is the fixed
    // a_u[source] - a_u[base]: fed as data, no per-row sender outputs needed.
    const delta = new Float32Array(c.source.data.length);
    for (let i = 0; i < delta.length; i++) delta[i] = c.source.data[i] - c.base.data[i];
    const m = await this.runMasks(exp, 'path', { shape: c.source.shape, data: delta }, edges.map((e) => [e]), opts);
    return m.map((x) => x - c.metric.base);
  }

  /**
   * The metric of the source run in which every receiver reads, from each sender outside the circuit, that sender's
   * base-run output (EAP-IG's evaluate_graph). Each circuit is a list of edges; returns M_C per circuit.
   */
  async evaluate(exp: Experiment, circuits: Edge[][], opts: EdgeRunOptions = {}): Promise<Float64Array> {
    const c = await this.cache(exp);
    const { upstream } = this.layout;
    const R = upstream.length;
    const complements = circuits.map((edges) => {
      const inC = new Set(edges.map((e) => e.sender * R + e.receiver));
      return allEdges(this.layout).filter((e) => !inC.has(e.sender * R + e.receiver));
    });
    return this.runMasks(exp, 'circuit', c.base, complements, opts);
  }

  /** Faithfulness (M_C - M_base) / (M_source - M_base) per circuit, with the metrics. */
  async faithfulness(exp: Experiment, circuits: Edge[][], opts: EdgeRunOptions = {}): Promise<{ metric: number; faithfulness: number }[]> {
    const { base, source } = await this.metrics(exp);
    const m = await this.evaluate(exp, circuits, opts);
    return Array.from(m, (x) => ({ metric: x, faithfulness: (x - base) / (source - base) }));
  }

  /**
   * Mean metric per mask (a list of edges). 'path': the base run, receivers read + mask . A (A = source - base);
   * 'circuit': the source run, receivers read + mask . (A - this run's senders) (A = base).
   */
  private async runMasks(exp: Experiment, mode: EdgePatchMode, A: Fetched, masks: Edge[][], opts: EdgeRunOptions): Promise<Float64Array> {
    const { cfg } = this;
    const [N, P] = [exp.nPairs, exp.nPos];
    const { senders, receivers } = this.layout;
    const [S, R] = [senders.length, receivers.length];
    // Rows of ~1024 tokens; a circuit run also holds every row's sender outputs [rows, pos, senders, d_model]: keep
    // that under ~16M floats (GPT-2 Small, 16 tokens: 8 circuits per run).
    const byMemory = mode === 'circuit' ? Math.floor(16e6 / (N * P * S * cfg.dModel)) : Infinity;
    const perRun = opts.perRun ?? Math.max(1, Math.min(32, Math.floor(1024 / (N * P)), byMemory));
    const K = Math.min(perRun, Math.max(1, masks.length));
    const denoising = exp.spec.direction === 'denoising';
    const tokens = (mode === 'path') === denoising ? exp.corrupted : exp.clean;
    const out = new Float64Array(masks.length);
    for (let first = 0; first < masks.length; first += K) {
      if (opts.signal?.aborted) throw new DOMException('The edge run was cancelled.', 'AbortError');
      const chunk = masks.slice(first, first + K);
      const mask = new Float32Array(K * R * S);
      chunk.forEach((edges, k) => {
        for (const e of edges) mask[(k * R + e.receiver) * S + e.sender] = 1;
      });
      const key = `edgepatch:${cfg.name}:${experimentKey(exp)}:${mode}:${K}`;
      const res = await this.rt.run(key, () => edgePatchGraph(cfg, exp, mode, K), {
        tokens: tokenFeed(tokens),
        acts: { dtype: 'float32', shape: A.shape, data: A.data },
        'edge.mask': { dtype: 'float32', shape: [K, R, S], data: mask },
        ...metricFeeds(cfg, exp),
      });
      const rows = res.metric_rows.data;
      chunk.forEach((_, k) => {
        let m = 0;
        for (let b = 0; b < N; b++) m += rows[k * N + b];
        out[first + k] = m / N;
      });
      opts.onProgress?.(Math.min(first + K, masks.length), masks.length);
    }
    return out;
  }

  private cache(exp: Experiment): Promise<EdgeCache> {
    const key = JSON.stringify([exp.clean, exp.corrupted, exp.answers, exp.wrongs, exp.basket, exp.positions, exp.spec.metric.name, exp.spec.direction]);
    let c = this.caches.get(key);
    if (!c) {
      c = this.runCache(exp);
      this.caches.set(key, c);
      c.catch(() => this.caches.delete(key));
      if (this.caches.size > 4) this.caches.delete(this.caches.keys().next().value!);
    }
    return c;
  }

  private async runCache(exp: Experiment): Promise<EdgeCache> {
    const { cfg } = this;
    const denoising = exp.spec.direction === 'denoising';
    const out = await this.rt.run(`edgecache:${cfg.name}:${experimentKey(exp)}`, () => edgeCacheGraph(cfg, exp), {
      'tokens.base': tokenFeed(denoising ? exp.corrupted : exp.clean),
      'tokens.source': tokenFeed(denoising ? exp.clean : exp.corrupted),
      ...metricFeeds(cfg, exp),
    });
    return { base: out['acts.base'], source: out['acts.source'], metric: { base: out['metric.base'].data[0], source: out['metric.source'].data[0] } };
  }

  clear(): void {
    this.caches.clear();
  }
}

/** Sender outputs [N, P, S, d_model] and the metric of the base and source runs. */
function edgeCacheGraph(cfg: GPT2Config, exp: Experiment): Graph {
  const g = new Graph('edge-cache');
  const w = weightInputs(g, cfg);
  const mIn = metricInputs(g, cfg, exp);
  for (const role of ['base', 'source']) {
    const taps: EdgeTaps = { senders: [], inputs: [] };
    const x = gpt2Forward(cfg, w, g.input(`tokens.${role}`, [exp.nPairs, exp.nPos], 'int64'), tapEdges(cfg, taps), { edgeHooks: true });
    g.output(Concat(taps.senders, 2), `acts.${role}`);
    g.output(meanOf(metricRows(cfg, w, x, exp, mIn)), `metric.${role}`);
  }
  return g;
}

type EdgePatchMode = 'path' | 'circuit';

/**
 * K edge-patched runs of one prompt set, rows = K x nPairs (mask-major). Receiver v of run k reads in_v plus
 * sum over upstream u of mask[k, v, u] * D_u, computed layer by layer: D = acts (path: a fixed source - base) or
 * D = acts - this run's sender outputs (circuit: acts = the base run's).
 */
function edgePatchGraph(cfg: GPT2Config, exp: Experiment, mode: EdgePatchMode, K: number): Graph {
  const g = new Graph('edge-patch');
  const w = weightInputs(g, cfg);
  const { nLayers: L, nHeads: H, dModel: D } = cfg;
  const [N, P] = [exp.nPairs, exp.nPos];
  const layout = edgeLayout(cfg);
  const [S, R] = [layout.senders.length, layout.receivers.length];
  const tokens = Reshape(Expand(Reshape(g.input('tokens', [N, P], 'int64'), [1, N, P]), [K, N, P]), [K * N, P]);
  const acts = Reshape(g.input('acts', [N, P, S, D]), [1, N * P, S, D]);
  const mask = g.input('edge.mask', [K, R, S]);
  const mIn = metricInputs(g, cfg, exp);

  const senders: Tensor[] = []; // this run's sender outputs so far, each [K * N, P, n, d_model] (circuit mode)
  /** Corrections for receivers r0 .. r0 + nR - 1, which read the first s senders: [K * N, P, nR, d_model]. */
  const correction = (r0: number, nR: number) => {
    const s = layout.upstream[r0];
    const fed = Slice(acts, 2, 0, s); // [1, N * P, s, d_model]
    const diff = mode === 'path' ? fed : Sub(fed, Reshape(Concat([...senders], 2), [K, N * P, s, D])); // a copy of the list: the node keeps it
    const m = Reshape(Slice(Slice(mask, 1, r0, r0 + nR), 2, 0, s), [K, 1, nR, s]);
    return Reshape(MatMul(m, diff), [K * N, P, nR, D]);
  };
  let attn: Tensor | undefined; // this layer's attention receivers' corrections, [K * N, P, 3 * head_index, d_model]
  const last = `blocks.${L - 1}.hook_resid_post`;
  const hook = (name: string, t: Tensor): Tensor => {
    const l = Number(name.match(/^blocks\.(\d+)\./)?.[1] ?? -1);
    if (mode === 'circuit' && (name === 'blocks.0.hook_resid_pre' || name.endsWith('hook_mlp_out'))) senders.push(unsqueeze2(t));
    else if (mode === 'circuit' && name.endsWith('attn.hook_result')) senders.push(t);
    else if (name.endsWith('hook_q_input')) {
      attn = correction(layerReceiver(cfg, l), 3 * H);
      return Add(t, Slice(attn, 2, 0, H));
    } else if (name.endsWith('hook_k_input')) return Add(t, Slice(attn!, 2, H, 2 * H));
    else if (name.endsWith('hook_v_input')) return Add(t, Slice(attn!, 2, 2 * H, 3 * H));
    else if (name.endsWith('hook_mlp_in')) return Add(t, Reshape(correction(layerReceiver(cfg, l) + 3 * H, 1), t.shape));
    else if (name === last) return Add(t, Reshape(correction(R - 1, 1), t.shape));
    return t;
  };
  const x = gpt2Forward(cfg, w, tokens, hook, { edgeHooks: true });
  g.output(metricRows(cfg, w, x, exp, mIn), 'metric_rows');
  return g;
}

