// Exact activation patching: rerun the base prompt with one activation replaced by the source run's value and
// read how far the metric moves. Denoising: base = corrupted, source = clean; noising: the reverse.
//
// Speed: one cached forward gives the base run's residual stream at every layer and the source run's activations.
// A patch at layer L then starts from the cached blocks.L.hook_resid_pre (nothing below L is recomputed); a patch
// at position p leaves every earlier position unchanged (causal attention), so only positions >= p are computed,
// with the earlier keys and values taken from the cache; many patches share one run (rows = patch x pair); and
// only the metric positions are unembedded.
import { Add, Arange, Expand, Graph, Less, MatMul, Pad, Reshape, Slice, Where, geluNew, layerNorm, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { int64Feed, type DeviceTensor, type Feed, type Fetched, type Runtime } from '../runtime/types';
import { noiseFeed, shapeKey, tokenFeed } from './attribution';
import { atLength, type Experiment } from './experiment';
import { runSymbolic, runSymbolicKeeping, sizesWithin } from '../runtime/symbolic';
import { cellSelector, familyAxes, familyEntry, familyShape, firstPosition, hookFor, hookPosAxis, type Family } from './families';
import { familyHookShape } from './hook-shapes';
import type { PairLabelled } from './dataset';
import { cells, size, type Labelled } from './labelled';
import { meanOf, metricFeeds, metricInputs, metricRows, positionsFeed } from './metrics';
import { metricCapture } from './internal-metric';
import { notUpstream } from './metric-spec';
import { patchMetricRows } from './patch-metric';

export interface SweepOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Patches per run (default: about 1024 token rows per run). */
  patchesPerRun?: number;
  /**
   * Suffix starts are rounded down to a multiple of this (default: about P / 4), trading recomputed positions for
   * fewer distinct graphs (each costs a session, ~40 ms to create; npm run bench shows P / 4 is the sweet spot at 16 tokens). 1 = exact.
   */
  positionBucket?: number;
  /**
   * Instead of the source run's values, the values a patch writes into `hook` ([nPairs, ...hook shape]): zero and
   * mean ablation (ablation.ts). The base run is still the experiment's.
   */
  replacement?: (hook: string, shape: number[]) => Feed;
}

interface RunCache {
  base: Map<string, Fetched>;
  source: Map<string, Fetched>;
  /**
   * Outputs that later runs only feed back (each layer's base resid_pre and the source run's hooks), left on the
   * device (WebGPU: GPU buffers; Runtime.runKeeping) by output name, e.g. `base.blocks.3.hook_resid_pre`; disposed
   * when the cache is dropped. Absent from base/source then.
   */
  held: Record<string, DeviceTensor>;
  metric: { base: number; source: number };
  /** Each pair's metric of the base and source runs. */
  rows: { base: ArrayLike<number>; source: ArrayLike<number> };
}

export class ActivationPatcher {
  private caches = new Map<string, Promise<RunCache>>();

  constructor(
    private readonly rt: Runtime,
    private readonly cfg: GPT2Config,
  ) {}

  /** Metric of the base and source runs (base = corrupted when denoising). */
  async metrics(exp: Experiment): Promise<{ base: number; source: number }> {
    return (await this.cache(exp, 'resid_pre')).metric;
  }

  /** The exact patch of one cell: metric(patched base) - metric(base). */
  async patch(exp: Experiment, family: Family, index: number[]): Promise<number> {
    return (await this.patchCells(exp, family, [index]))[0];
  }

  /** Every cell of a family, with progress and cancellation. */
  async sweep(exp: Experiment, family: Family, opts: SweepOptions = {}): Promise<Labelled> {
    const shape = familyShape(family, this.cfg, exp.nPos);
    const all = [...cells(shape)];
    return { axes: familyAxes(family), shape, data: await this.patchCells(exp, family, all, opts) };
  }

  async patchCells(exp: Experiment, family: Family, indices: number[][], opts: SweepOptions = {}): Promise<Float64Array> {
    return (await this.patchRows(exp, family, indices, opts)).mean;
  }

  /** Every cell of a family for each pair on its own: [pair, ...layout], and each pair's base and source metrics. */
  async sweepPairs(exp: Experiment, family: Family, opts: SweepOptions = {}): Promise<{ values: PairLabelled; metric: { base: ArrayLike<number>; source: ArrayLike<number> } }> {
    const shape = familyShape(family, this.cfg, exp.nPos);
    const { perPair } = await this.patchRows(exp, family, [...cells(shape)], opts);
    const { rows } = await this.cache(exp, family);
    return { values: { axes: ['pair', ...familyAxes(family)], shape: [exp.nPairs, ...shape], data: perPair }, metric: rows };
  }

  /** Patch effects: their mean over pairs [cell], and per pair [pair, cell]. */
  private async patchRows(exp: Experiment, family: Family, indices: number[][], opts: SweepOptions): Promise<{ mean: Float64Array; perPair: Float64Array }> {
    const { cfg } = this;
    const [N, P] = [exp.nPairs, exp.nPos];
    const cache = await this.cache(exp, family);
    const perRun = opts.patchesPerRun ?? Math.max(1, Math.min(64, Math.floor(1024 / (N * P))));
    const bucket = opts.positionBucket ?? Math.max(1, Math.ceil(P / 4));
    const minMetricPos = Math.min(...exp.positions);
    const out = new Float64Array(indices.length);
    const perPair = new Float64Array(N * indices.length);
    // Group cells by (layer, first computed position): each group starts from that layer's cached residual stream
    // and computes only the positions from its start on.
    const groups = new Map<string, { layer: number; start: number; members: number[] }>();
    let skipped = 0;
    indices.forEach((idx, i) => {
      const l = idx[0];
      if (!Number.isInteger(l) || l < 0 || l >= cfg.nLayers) throw new Error(`Layer ${l} is outside 0..${cfg.nLayers - 1}.`);
      // Not upstream of an internal metric (metric-spec.ts): never computed, NaN rather than 0.
      if (notUpstream(exp.spec.metric, hookFor(family, l))) {
        skipped++;
        out[i] = NaN;
        for (let b = 0; b < N; b++) perPair[b * indices.length + i] = NaN;
        return;
      }
      const start = Math.min(Math.floor(firstPosition(family, idx) / bucket) * bucket, minMetricPos);
      const key = `${l}:${start}`;
      if (!groups.has(key)) groups.set(key, { layer: l, start, members: [] });
      groups.get(key)!.members.push(i);
    });
    let done = skipped;
    for (const { layer, start, members } of groups.values()) {
      const hook = hookFor(family, layer);
      const hShape = familyHookShape(cfg, family, layer, P, start);
      const hSize = size(hShape);
      const posAxis = hookPosAxis(family);
      // Runs of equal size S (one session per group), as few as perRun allows; only the last may be padded.
      const S = Math.ceil(members.length / Math.ceil(members.length / perRun));
      for (let first = 0; first < members.length; first += S) {
        if (opts.signal?.aborted) throw new DOMException('The sweep was cancelled.', 'AbortError');
        const chunk = members.slice(first, first + S);
        const mask = new Uint8Array(S * hSize);
        chunk.forEach((cellI, s) => {
          const { select } = cellSelector(family, indices[cellI]);
          const coord = hShape.map(() => 0);
          for (let e = 0; e < hSize; e++) {
            coord[posAxis] += start; // suffix coordinates -> absolute
            if (select(coord)) mask[s * hSize + e] = 1;
            coord[posAxis] -= start;
            for (let a = hShape.length - 1; a >= 0; a--) {
              if (++coord[a] < hShape[a]) break;
              coord[a] = 0;
            }
          }
        });
        // hook_z below the last layer: start from the cached z (zLocalRun), which slices the caches on the host;
        // where they are held on the device (WebGPU, runtime.runKeeping), the plain patch graph reads them there.
        const onHost = cache.base.has(`blocks.${layer}.hook_resid_pre`) && cache.base.has(`blocks.${layer + 1}.hook_resid_pre`) && (!!opts.replacement || cache.source.has(hook));
        const zRun = familyEntry(family).act === 'z' && layer < cfg.nLayers - 1 && onHost
          ? zLocalRun(cfg, exp, cache, family, layer, start, S, mask, hShape, opts.replacement) : undefined;
        const held: Record<string, DeviceTensor> = {};
        const residHeld = zRun ? undefined : cache.held[`base.blocks.${layer}.hook_resid_pre`];
        const sourceHeld = zRun || opts.replacement ? undefined : cache.held[`source.${hook}`];
        if (residHeld) held.resid = residHeld;
        if (sourceHeld) held['patch.values'] = sourceHeld;
        const feeds: Record<string, Feed> = zRun ? zRun.feeds : {
          ...(residHeld ? {} : { resid: f32(cache.base.get(`blocks.${layer}.hook_resid_pre`)!) }),
          ...(sourceHeld ? {} : { 'patch.values': opts.replacement ? opts.replacement(hook, [N, ...familyHookShape(cfg, family, layer, P)]) : f32(cache.source.get(hook)!) }),
          'patch.mask': { dtype: 'bool', shape: [S, 1, ...hShape], data: mask },
          ...metricFeeds(cfg, exp),
          // Metric positions in the computed suffix; with the last layer trimmed, the rows it computes.
          ...positionsFeed(exp, start),
          'rows.index': int64Feed(exp.positions.map((p) => p - start), [exp.positions.length]),
        };
        if (start > 0 && !zRun)
          for (let l = layer; l < cfg.nLayers; l++) {
            feeds[`past.k.${l}`] = prefix(cache.base.get(`blocks.${l}.attn.hook_k`)!, start);
            feeds[`past.v.${l}`] = prefix(cache.base.get(`blocks.${l}.attn.hook_v`)!, start);
          }
        // One graph per (hook, with or without a cached prefix) serves every prompt length, first position and
        // run size: SYM_POS (positions computed), SYM_PAST (cached prefix) and SYM_RUNS (patches per run).
        const key = `patch:${cfg.name}:${shapeKey(exp)}:${hook}:${start > 0 ? 'past' : 'full'}`;
        const sizes = sizesWithin(cfg.nCtx, P, [
          { name: 'SYM_POS', value: P - start },
          ...(start > 0 ? [{ name: 'SYM_PAST', value: start }] : []),
          { name: 'SYM_RUNS', value: S },
        ]);
        const build = ([pos, ...rest]: number[]) => {
          const [past, runs] = start > 0 ? rest : [0, rest[0]];
          return patchGraph(cfg, atLength(exp, past + pos), family, layer, past, runs);
        };
        const res = zRun ? await runSymbolic(this.rt, zRun.key, zRun.sizes, zRun.build, feeds)
          : (await runSymbolicKeeping(this.rt, key, sizes, build, feeds, held, () => false)).fetched;
        const rows = res.metric_rows.data;
        chunk.forEach((cellI, s) => {
          let m = 0;
          for (let b = 0; b < N; b++) {
            m += rows[s * N + b];
            perPair[b * indices.length + cellI] = rows[s * N + b] - cache.rows.base[b];
          }
          out[cellI] = m / N - cache.metric.base;
        });
        done += chunk.length;
        opts.onProgress?.(done, indices.length);
      }
    }
    return { mean: out, perPair };
  }

  private cache(exp: Experiment, family: Family): Promise<RunCache> {
    const key = `${cacheKey(exp)}:${family}`;
    let c = this.caches.get(key);
    if (!c) {
      c = this.runCache(exp, family);
      this.caches.set(key, c);
      c.catch(() => this.caches.delete(key));
      // Keep a few experiments at most: caches hold full activations.
      if (this.caches.size > 8) {
        const oldest = this.caches.keys().next().value!;
        void this.caches.get(oldest)!.then(disposeHeld, () => undefined);
        this.caches.delete(oldest);
      }
    }
    return c;
  }

  private async runCache(exp: Experiment, family: Family): Promise<RunCache> {
    const { cfg } = this;
    const denoising = exp.spec.direction === 'denoising';
    const key = `cache:${cfg.name}:${shapeKey(exp)}:${family}`;
    const sizes = sizesWithin(cfg.nCtx, exp.nPos, [{ name: 'SYM_POS', value: exp.nPos }]);
    const { fetched: out, kept: held } = await runSymbolicKeeping(this.rt, key, sizes, ([pos]) => cacheGraph(cfg, atLength(exp, pos), family), {
      'tokens.base': tokenFeed(denoising ? exp.corrupted : exp.clean),
      'tokens.source': tokenFeed(denoising ? exp.clean : exp.corrupted),
      ...metricFeeds(cfg, exp),
      ...noiseFeed(cfg, exp),
    }, {}, (name) => /^base\..*hook_resid_pre$/.test(name) || name.startsWith('source.'));
    const base = new Map<string, Fetched>();
    const source = new Map<string, Fetched>();
    for (const [name, t] of Object.entries(out)) {
      if (name.startsWith('base.')) base.set(name.slice(5), t);
      if (name.startsWith('source.')) source.set(name.slice(7), t);
    }
    return {
      base, source, held,
      metric: { base: out['metric.base'].data[0], source: out['metric.source'].data[0] },
      rows: { base: out['metric_rows.base'].data, source: out['metric_rows.source'].data },
    };
  }

  clear(): void {
    for (const c of this.caches.values()) void c.then(disposeHeld, () => undefined);
    this.caches.clear();
  }
}

function disposeHeld(c: RunCache): void {
  for (const t of Object.values(c.held)) t.dispose();
}

const f32 = (t: Fetched): Feed => ({ dtype: 'float32', shape: t.shape, data: t.data });

/** Positions 0..n-1 of a [batch, pos, ...] activation: [batch, n, ...]. */
function prefix(t: Fetched, n: number): Feed {
  const [batch, P, ...rest] = t.shape;
  const row = rest.reduce((a, b) => a * b, 1);
  const data = new Float32Array(batch * n * row);
  for (let b = 0; b < batch; b++) data.set(t.data.subarray(b * P * row, (b * P + n) * row), b * n * row);
  return { dtype: 'float32', shape: [batch, n, ...rest], data };
}

function cacheKey(exp: Experiment): string {
  return JSON.stringify([exp.clean, exp.corrupted, exp.answers, exp.wrongs, exp.basket, exp.positions, exp.spec.metric, exp.spec.direction, exp.noise?.key, exp.forced]);
}

/** Base run: residual stream at every layer. Source run: the family's hook at every layer. Both metrics. */
function cacheGraph(cfg: GPT2Config, exp: Experiment, family: Family): Graph {
  const g = new Graph('cache');
  const w = weightInputs(g, cfg);
  const [N, P] = [exp.nPairs, exp.nPos];
  const mIn = metricInputs(g, cfg, exp, true);
  const wanted = new Set(Array.from({ length: cfg.nLayers }, (_, l) => hookFor(family, l)));
  const baseZ = familyEntry(family).act === 'z'; // hook_z patches start from the base run's z (zLocalRun)
  // Gaussian-noise corruption: the corrupted run's token embeddings plus a fed constant.
  const corruptedRole = exp.spec.direction === 'denoising' ? 'base' : 'source';
  const noise = exp.noise ? g.input('noise', [N, P, cfg.dModel]) : undefined;
  const run = (role: 'base' | 'source') => {
    const tokens = g.input(`tokens.${role}`, [N, P], 'int64');
    const cap = metricCapture(cfg, exp);
    const x = gpt2Forward(cfg, w, tokens, cap.wrap((name, t0) => {
      const t = noise && role === corruptedRole && name === 'hook_embed' ? Add(t0, noise) : t0;
      if (role === 'base' && (/hook_resid_pre$|attn\.hook_[kv]$/.test(name) || (baseZ && name.endsWith('attn.hook_z')))) g.output(t, `base.${name}`);
      if (role === 'source' && wanted.has(name)) g.output(t, `source.${name}`);
      return t;
    }));
    const rows = metricRows(cfg, w, x, exp, mIn, cap);
    g.output(meanOf(rows), `metric.${role}`);
    g.output(rows, `metric_rows.${role}`);
  };
  run('base');
  run('source');
  return g;
}

/**
 * S patches of one hook at one layer, each applied to every pair: rows = S x nPairs (patch-major). Starts from the
 * cached residual stream at that layer and computes positions start.. only (earlier keys and values from the cache);
 * hook entries where mask[s] is true take the source run's values.
 */
function patchGraph(cfg: GPT2Config, exp: Experiment, family: Family, layer: number, start: number, S: number): Graph {
  const g = new Graph('patch');
  const w = weightInputs(g, cfg);
  const { nHeads: H, dHead: dh, dModel: D } = cfg;
  const [N, P] = [exp.nPairs, exp.nPos];
  const hook = hookFor(family, layer);
  const fullShape = familyHookShape(cfg, family, layer, P);
  const hShape = familyHookShape(cfg, family, layer, P, start);
  const posAxis = 1 + hookPosAxis(family); // in [batch, ...hook]
  const suffix = (t: Tensor, axis: number) => (start > 0 ? Slice(t, axis, start, P) : t);
  const tile = (t: Tensor) => Reshape(Expand(Reshape(t, [1, ...t.shape]), [S, ...t.shape]), [S * N, ...t.shape.slice(1)]);

  const resid = tile(suffix(g.input('resid', [N, P, D]), 1)); // [rows, Ps, d_model]
  const values = suffix(g.input('patch.values', [N, ...fullShape]), posAxis);
  const mask = g.input('patch.mask', [S, 1, ...hShape], 'bool');
  // Metric positions are inputs (counted from `start`): the graph serves every prompt length and position.
  const mIn = metricInputs(g, cfg, exp, true);
  const past = {
    start,
    kv: (l: number) => {
      const pre = (kind: 'k' | 'v') => tile(g.input(`past.${kind}.${l}`, [N, start, H, dh])); // [rows, start, head_index, d_head]
      return { k: pre('k'), v: pre('v') };
    },
  };
  const patched = (t: Tensor) => Reshape(Where(mask, Reshape(values, [1, N, ...hShape]), Reshape(t, [S, N, ...hShape])), t.shape);
  // Below the last layer, the last layer needs only the metric positions (unless the patch is in it): its rows are
  // the metric positions in order, so the metric reads them as they are.
  const trim = layer < cfg.nLayers - 1;
  const cap = metricCapture(cfg, exp, trim); // internal metrics: the hook's value after the patch
  const x = gpt2Forward(cfg, w, null, cap.wrap((name, t) => (name === hook ? patched(t) : t)), {
    startLayer: layer, residPre: resid, past, finalRows: trim ? g.input('rows.index', [exp.positions.length], 'int64') : undefined,
  });
  g.output(patchMetricRows(cfg, w, x, exp, trim ? { ...mIn, selected: true } : mIn, cap), 'metric_rows');
  return g;
}

/** Positions from..to-1 of a [batch, pos, ...] activation (or feed): [batch, to - from, ...]. */
function positions(t: { shape: readonly number[]; data: Float32Array }, from: number, to: number): Feed {
  const [batch, P, ...rest] = t.shape;
  const row = rest.reduce((a, b) => a * b, 1);
  const n = to - from;
  const data = new Float32Array(batch * n * row);
  for (let b = 0; b < batch; b++) data.set(t.data.subarray((b * P + from) * row, (b * P + to) * row), b * n * row);
  return { dtype: 'float32', shape: [batch, n, ...rest], data };
}

/**
 * A run of S hook_z patches at one layer below the last (issue 15: the sweep's speed). Patching z at positions
 * start..start+n-1 of layer L changes that layer only there and only after its attention (z is attention's output),
 * so the run takes the base run's cached z, patches it, and computes layer L's output projection and MLP at those n
 * positions only; layers L+1.. start from that and from the cached resid_pre of layer L+1 at the later positions
 * (unchanged in layer L), with keys and values before `start` from the cache as in patchGraph. The general path
 * recomputes layer L's attention at every computed position instead. `mask` is patchRows's [S, suffix hook] mask.
 */
function zLocalRun(
  cfg: GPT2Config, exp: Experiment, cache: RunCache, family: Family, layer: number, start: number, S: number, mask: Uint8Array,
  hShape: number[], replacement: SweepOptions['replacement'],
): { key: string; sizes: ReturnType<typeof sizesWithin>; build: (sizes: number[]) => Graph; feeds: Record<string, Feed> } {
  const [N, P] = [exp.nPairs, exp.nPos];
  const perPos = cfg.nHeads * cfg.dHead;
  const hSize = size(hShape);
  if (hookPosAxis(family) !== 0 || hSize !== (P - start) * perPos) throw new Error(`zLocalRun: unexpected hook shape [${hShape}]`);
  // n: the positions layer L recomputes, up to the last one any patch of the run touches.
  let n = 1;
  for (let s = 0; s < S; s++)
    for (let e = hSize - 1; e >= n * perPos; e--)
      if (mask[s * hSize + e]) {
        n = Math.floor(e / perPos) + 1;
        break;
      }
  const local = new Uint8Array(S * n * perPos);
  for (let s = 0; s < S; s++) local.set(mask.subarray(s * hSize, s * hSize + n * perPos), s * n * perPos);
  const hook = hookFor(family, layer);
  const source = replacement ? replacement(hook, [N, ...familyHookShape(cfg, family, layer, P)]) : f32(cache.source.get(hook)!);
  if (source.dtype !== 'float32') throw new Error(`zLocalRun: the values patched into ${hook} must be float32`);
  const rest = P - start - n; // positions after the recomputed ones, taken from the cache at layer L + 1
  const feeds: Record<string, Feed> = {
    'resid.local': positions(cache.base.get(`blocks.${layer}.hook_resid_pre`)!, start, start + n),
    // From the last recomputed position on (rest + 1 >= 1 positions: no empty tensor when rest = 0).
    'resid.next': positions(cache.base.get(`blocks.${layer + 1}.hook_resid_pre`)!, start + n - 1, P),
    'z.base': positions(cache.base.get(hook)!, start, start + n),
    'patch.values': positions(source, start, start + n),
    'patch.mask': { dtype: 'bool', shape: [S, 1, n, cfg.nHeads, cfg.dHead], data: local },
    ...metricFeeds(cfg, exp),
    ...positionsFeed(exp, start),
    'rows.index': int64Feed(exp.positions.map((p) => p - start), [exp.positions.length]),
  };
  if (start > 0)
    for (let l = layer + 1; l < cfg.nLayers; l++) {
      feeds[`past.k.${l}`] = prefix(cache.base.get(`blocks.${l}.attn.hook_k`)!, start);
      feeds[`past.v.${l}`] = prefix(cache.base.get(`blocks.${l}.attn.hook_v`)!, start);
    }
  // One graph per (layer, with or without a cached prefix): SYM_LOCAL (n), SYM_REST, SYM_PAST (start), SYM_RUNS (S).
  const key = `patch-z:${cfg.name}:${shapeKey(exp)}:${hook}:${start > 0 ? 'past' : 'full'}`;
  const sizes = sizesWithin(cfg.nCtx, P, [
    { name: 'SYM_LOCAL', value: n },
    { name: 'SYM_REST', value: rest },
    ...(start > 0 ? [{ name: 'SYM_PAST', value: start }] : []),
    { name: 'SYM_RUNS', value: S },
  ]);
  const build = ([nl, nr, ...more]: number[]) => {
    const [past, runs] = start > 0 ? more : [0, more[0]];
    return zPatchGraph(cfg, atLength(exp, past + nl + nr), layer, past, nl, runs);
  };
  return { key, sizes, build, feeds };
}

/** zLocalRun's graph: S patches x nPairs rows, layer L's output projection and MLP at n positions, then L+1... */
function zPatchGraph(cfg: GPT2Config, exp: Experiment, layer: number, start: number, n: number, S: number): Graph {
  const g = new Graph('patch-z');
  const w = weightInputs(g, cfg);
  const W = (name: string) => w.get(name)!;
  const { nHeads: H, dHead: dh, dModel: D } = cfg;
  const [N, P] = [exp.nPairs, exp.nPos];
  const tile = (t: Tensor) => Reshape(Expand(Reshape(t, [1, ...t.shape]), [S, ...t.shape]), [S * N, ...t.shape.slice(1)]);
  const p = `h.${layer}.`;
  const zBase = Reshape(g.input('z.base', [N, n, H, dh]), [1, N, n, H, dh]);
  const values = Reshape(g.input('patch.values', [N, n, H, dh]), [1, N, n, H, dh]);
  const mask = g.input('patch.mask', [S, 1, n, H, dh], 'bool');
  const z = Reshape(Where(mask, values, zBase), [S * N, n, H * dh]); // blocks.L.attn.hook_z, patched
  const attnOut = Add(MatMul(z, W(p + 'attn.c_proj.weight')), W(p + 'attn.c_proj.bias'));
  const residMid = Add(tile(g.input('resid.local', [N, n, D])), attnOut);
  const ln2 = layerNorm(residMid, W(p + 'ln_2.weight'), W(p + 'ln_2.bias'), cfg.layerNormEps).out;
  const post = geluNew(Add(MatMul(ln2, W(p + 'mlp.c_fc.weight')), W(p + 'mlp.c_fc.bias')));
  const residPost = Add(residMid, Add(MatMul(post, W(p + 'mlp.c_proj.weight')), W(p + 'mlp.c_proj.bias'))); // [rows, n, d_model]
  // blocks.L+1.hook_resid_pre at positions start..: the n recomputed ones, then the cached ones. Where and zero
  // padding instead of a Concat, so that no tensor is empty when nothing follows the recomputed positions.
  const rest = P - start - n;
  const next = Reshape(Pad(g.input('resid.next', [N, rest + 1, D]), [0, n - 1, 0, 0, 0, 0]), [1, N, n + rest, D]);
  const isLocal = Less(Reshape(Arange(g, 0, n + rest), [1, 1, n + rest, 1]), g.constant([n], [], 'int64'));
  const resid = Reshape(Where(isLocal, Reshape(Pad(residPost, [0, 0, 0, 0, rest, 0]), [S, N, n + rest, D]), next), [S * N, n + rest, D]);
  const mIn = metricInputs(g, cfg, exp, true);
  const past = {
    start,
    kv: (l: number) => {
      const pre = (kind: 'k' | 'v') => tile(g.input(`past.${kind}.${l}`, [N, start, H, dh]));
      return { k: pre('k'), v: pre('v') };
    },
  };
  const cap = metricCapture(cfg, exp, true); // internal metrics (all in layers > L here: z at L is upstream only of those)
  const x = gpt2Forward(cfg, w, null, cap.wrap((_name, t) => t), {
    startLayer: layer + 1, residPre: resid, past, finalRows: g.input('rows.index', [exp.positions.length], 'int64'),
  });
  g.output(patchMetricRows(cfg, w, x, exp, { ...mIn, selected: true }, cap), 'metric_rows');
  return g;
}
