// Exact measures on edges (issue #10): direct path patching and circuit evaluation (EAP-IG's evaluate_graph), both on
// one edge-patched forward: every receiver v reads
//   in_v(run) + sum over senders u of mask[v, u] * (A_u - a_u(run)),
// a masked matmul per layer with the mask and A fed as inputs, so one session serves every edge set of a prompt.
//   path patch of u->v: run = base, A = source activations, mask = 1 at (v, u) only; since nothing upstream of v
//                       changes, A_u - a_u(run) is the fixed a_u[source] - a_u[base], fed as data.
//   circuit C:          run = source, A = base activations, mask = 1 at every edge NOT in C.
// With cells patched on top (EdgeRunOptions.patched, the app's "Attribute on top"), the base run is the base run
// with those cells taken from the source run, and both kinds of run keep them at the source run's values: a path
// patch is then on the patched run, and a circuit is evaluated with the set always restored (faithfulness 0 = the
// patched run).
import { Add, Concat, Expand, Graph, MatMul, Reshape, Slice, Sub, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Fetched, Runtime } from '../runtime/types';
import { experimentKey, tokenFeed } from './attribution';
import { EdgeNameError, allEdges, edgeLayout, layerReceiver, receiverHook, tapEdges, unsqueeze2, type Edge, type EdgeLayout, type EdgeTaps } from './edges';
import { notUpstream } from './metric-spec';
import type { Experiment } from './experiment';
import { meanOf, metricFeeds, metricInputs, metricOf } from './metrics';
import type { CellPatch } from './node-sets';

export interface EdgeRunOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Edge sets per run (default: about 1024 token rows per run). */
  perRun?: number;
  /** Cells already patched in the base run (and held at their source values in every edge-patched run). */
  patched?: CellPatch;
}

interface EdgeCache {
  /** Sender outputs [N, P, S, d_model] of the base and source runs. */
  base: Fetched;
  source: Fetched;
  metric: { base: number; source: number };
  /** The source run's values of the patched cells' hooks [N, ...hook], by hook. */
  set: Map<string, Fetched>;
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
  async metrics(exp: Experiment, patched?: CellPatch): Promise<{ base: number; source: number }> {
    return (await this.cache(exp, patched)).metric;
  }

  /** Exact direct path patch of each edge alone: metric(base run, only v reads a_u[source]) - metric(base). */
  async pathPatch(exp: Experiment, edges: Edge[], opts: EdgeRunOptions = {}): Promise<Float64Array> {
    const { upstream } = this.layout;
    for (const e of edges)
      if (!(e.receiver >= 0 && e.receiver < upstream.length && e.sender >= 0 && e.sender < upstream[e.receiver]))
        throw new EdgeNameError(`(${e.sender}, ${e.receiver}) is not an edge of this model.`);
    const c = await this.cache(exp, opts.patched);
    // Only v's input changes, and every sender upstream of v keeps its base value, so the change is the fixed
    // a_u[source] - a_u[base]: fed as data, no per-row sender outputs needed.
    const delta = new Float32Array(c.source.data.length);
    for (let i = 0; i < delta.length; i++) delta[i] = c.source.data[i] - c.base.data[i];
    // Edges into receivers not upstream of an internal metric are not run: NaN, "not upstream".
    const run = edges.map((e) => !notUpstream(exp.spec.metric, receiverHook(this.layout.receivers[e.receiver])));
    const m = await this.runMasks(exp, 'path', { shape: c.source.shape, data: delta }, edges.filter((_, i) => run[i]).map((e) => [e]), opts, c.set);
    let j = 0;
    return Float64Array.from(edges, (_, i) => (run[i] ? m[j++] - c.metric.base : NaN));
  }

  /**
   * The metric of the source run in which every receiver reads, from each sender outside the circuit, that sender's
   * base-run output (EAP-IG's evaluate_graph). Each circuit is a list of edges; returns M_C per circuit.
   */
  async evaluate(exp: Experiment, circuits: Edge[][], opts: EdgeRunOptions = {}): Promise<Float64Array> {
    const c = await this.cache(exp, opts.patched);
    const { upstream } = this.layout;
    const R = upstream.length;
    const complements = circuits.map((edges) => {
      const inC = new Set(edges.map((e) => e.sender * R + e.receiver));
      return allEdges(this.layout).filter((e) => !inC.has(e.sender * R + e.receiver));
    });
    return this.runMasks(exp, 'circuit', c.base, complements, opts, c.set);
  }

  /** Faithfulness (M_C - M_base) / (M_source - M_base) per circuit, with the metrics. */
  async faithfulness(exp: Experiment, circuits: Edge[][], opts: EdgeRunOptions = {}): Promise<{ metric: number; faithfulness: number }[]> {
    const { base, source } = await this.metrics(exp, opts.patched);
    const m = await this.evaluate(exp, circuits, opts);
    return Array.from(m, (x) => ({ metric: x, faithfulness: (x - base) / (source - base) }));
  }

  /**
   * Mean metric per mask (a list of edges). 'path': the base run, receivers read + mask . A (A = source - base);
   * 'circuit': the source run, receivers read + mask . (A - this run's senders) (A = base).
   */
  private async runMasks(exp: Experiment, mode: EdgePatchMode, A: Fetched, masks: Edge[][], opts: EdgeRunOptions, set: Map<string, Fetched>): Promise<Float64Array> {
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
      const key = `edgepatch:${cfg.name}:${experimentKey(exp)}:${mode}:${K}:${opts.patched?.key ?? ''}`;
      const res = await this.rt.run(key, () => edgePatchGraph(cfg, exp, mode, K, opts.patched), {
        tokens: tokenFeed(tokens),
        ...Object.fromEntries([...set].map(([hook, v]) => [`set.${hook}`, { dtype: 'float32' as const, shape: v.shape, data: v.data }])),
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

  private cache(exp: Experiment, patched?: CellPatch): Promise<EdgeCache> {
    const key = JSON.stringify([exp.clean, exp.corrupted, exp.answers, exp.wrongs, exp.basket, exp.positions, exp.spec.metric, exp.spec.direction, patched?.key ?? '', exp.forced]);
    let c = this.caches.get(key);
    if (!c) {
      c = this.runCache(exp, patched);
      this.caches.set(key, c);
      c.catch(() => this.caches.delete(key));
      if (this.caches.size > 4) this.caches.delete(this.caches.keys().next().value!);
    }
    return c;
  }

  private async runCache(exp: Experiment, patched?: CellPatch): Promise<EdgeCache> {
    const { cfg } = this;
    const denoising = exp.spec.direction === 'denoising';
    const out = await this.rt.run(`edgecache:${cfg.name}:${experimentKey(exp)}:${patched?.key ?? ''}`, () => edgeCacheGraph(cfg, exp, patched), {
      'tokens.base': tokenFeed(denoising ? exp.corrupted : exp.clean),
      'tokens.source': tokenFeed(denoising ? exp.clean : exp.corrupted),
      ...metricFeeds(cfg, exp),
    });
    return {
      base: out['acts.base'],
      source: out['acts.source'],
      metric: { base: out['metric.base'].data[0], source: out['metric.source'].data[0] },
      set: new Map((patched?.hooks ?? []).map((h) => [h, out[`set.${h}`]])),
    };
  }

  clear(): void {
    this.caches.clear();
  }
}

/**
 * Sender outputs [N, P, S, d_model] and the metric of the base and source runs; with `patched`, the base run takes
 * those cells from the source run, whose values of their hooks are outputs too (`set.{hook}`).
 */
function edgeCacheGraph(cfg: GPT2Config, exp: Experiment, patched?: CellPatch): Graph {
  const g = new Graph('edge-cache');
  const w = weightInputs(g, cfg);
  const mIn = metricInputs(g, cfg, exp);
  const hooks = new Set(patched?.hooks);
  const set = new Map<string, Tensor>();
  for (const role of ['source', 'base']) {
    const taps: EdgeTaps = { senders: [], inputs: [] };
    const edit = (name: string, t: Tensor) => {
      if (!hooks.has(name)) return t;
      if (role === 'source') return set.set(name, t), g.output(t, `set.${name}`), t;
      return patched!.replace(name, t, set.get(name)!);
    };
    const rows = metricOf(cfg, w, exp, mIn, (wrap) =>
      gpt2Forward(cfg, w, g.input(`tokens.${role}`, [exp.nPairs, exp.nPos], 'int64'), wrap(tapEdges(cfg, taps, edit)), { edgeHooks: true }));
    g.output(Concat(taps.senders, 2), `acts.${role}`);
    g.output(meanOf(rows), `metric.${role}`);
  }
  return g;
}

type EdgePatchMode = 'path' | 'circuit';

/**
 * K edge-patched runs of one prompt set, rows = K x nPairs (mask-major). Receiver v of run k reads in_v plus
 * sum over upstream u of mask[k, v, u] * D_u, computed layer by layer: D = acts (path: a fixed source - base) or
 * D = acts - this run's sender outputs (circuit: acts = the base run's).
 */
function edgePatchGraph(cfg: GPT2Config, exp: Experiment, mode: EdgePatchMode, K: number, patched?: CellPatch): Graph {
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
  // Cells patched on top: every row holds them at the source run's values (fed, [N, ...hook], tiled over K).
  const setHooks = new Set(patched?.hooks);
  const hook = (name: string, t0: Tensor): Tensor => {
    let t = t0;
    if (setHooks.has(name)) {
      const shape = t0.shape.slice(1);
      const src = Reshape(Expand(Reshape(g.input(`set.${name}`, [N, ...shape]), [1, N, ...shape]), [K, N, ...shape]), [K * N, ...shape]);
      t = patched!.replace(name, t0, src);
    }
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
  g.output(metricOf(cfg, w, exp, mIn, (wrap) => gpt2Forward(cfg, w, tokens, wrap(hook), { edgeHooks: true })), 'metric_rows');
  return g;
}

