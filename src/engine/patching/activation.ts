// Exact activation patching: rerun the base prompt with one activation replaced by the source run's value and
// read how far the metric moves. Denoising: base = corrupted, source = clean; noising: the reverse.
//
// Speed: one cached forward gives the base run's residual stream at every layer and the source run's activations.
// A patch at layer L then starts from the cached blocks.L.hook_resid_pre (nothing below L is recomputed); a patch
// at position p leaves every earlier position unchanged (causal attention), so only positions >= p are computed,
// with the earlier keys and values taken from the cache; many patches share one run (rows = patch x pair); and
// only the metric positions are unembedded.
import { Add, Expand, Graph, Reshape, Slice, Where, type Tensor } from '../graph';
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
import { isInternalMetric, notUpstream } from './metric-spec';
import { patchMetricRows } from './patch-metric';
import { packedRuns, packedZRun, zCell } from './z-packed';

export interface SweepOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Patches per run (default: about 1024 token rows per run; packed hook_z runs: z-packed.ts's PACKED_LIMITS). */
  patchesPerRun?: number;
  /**
   * Suffix starts of the plain patch graph are rounded down to a multiple of this (default: about P / 4), trading
   * recomputed positions for fewer, larger runs. 1 = exact. Packed hook_z runs (z-packed.ts) always start each cell
   * at its own position.
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
    const groups = new Map<string, { layer: number; start: number; packed: boolean; members: number[] }>();
    // The packed path reads the caches on the host; where WebGPU holds them on the device, and for internal metrics
    // (which read a hook the packed forward does not expose), the plain patch graph runs instead.
    const packedZ = (l: number) =>
      familyEntry(family).act === 'z' && l < cfg.nLayers - 1 && !isInternalMetric(exp.spec.metric.name) &&
      cache.base.has(`blocks.${l}.hook_resid_pre`) && cache.base.has(`blocks.${l + 1}.hook_resid_pre`) &&
      (!!opts.replacement || cache.source.has(hookFor(family, l)));
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
      // hook_z below the last layer, caches on the host: one packed group per layer, each cell from its own first
      // position (z-packed.ts). Elsewhere: groups by (layer, bucketed first position).
      const packed = packedZ(l);
      const start = packed ? 0 : Math.min(Math.floor(firstPosition(family, idx) / bucket) * bucket, minMetricPos);
      const key = packed ? `${l}:z` : `${l}:${start}`;
      if (!groups.has(key)) groups.set(key, { layer: l, start, packed, members: [] });
      groups.get(key)!.members.push(i);
    });
    let done = skipped;
    const record = (chunk: number[], rows: ArrayLike<number>) => {
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
    };
    for (const { layer, start, packed, members } of groups.values()) {
      const hook = hookFor(family, layer);
      if (packed) {
        const zCells = members.map((i) => zCell(cfg, exp, family, indices[i]));
        const values = opts.replacement ? opts.replacement(hook, [N, ...familyHookShape(cfg, family, layer, P)]) : f32(cache.source.get(hook)!);
        for (const run of packedRuns(cfg, exp, zCells, opts.patchesPerRun)) {
          if (opts.signal?.aborted) throw new DOMException('The sweep was cancelled.', 'AbortError');
          const r = packedZRun(cfg, exp, layer, run.map((i) => zCells[i]), (h) => cache.base.get(h)!, values);
          const res = await runSymbolic(this.rt, r.key, r.sizes, r.build, r.feeds);
          record(run.map((i) => members[i]), res.metric_rows.data);
        }
        continue;
      }
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
        const held: Record<string, DeviceTensor> = {};
        const residHeld = cache.held[`base.blocks.${layer}.hook_resid_pre`];
        const sourceHeld = opts.replacement ? undefined : cache.held[`source.${hook}`];
        if (residHeld) held.resid = residHeld;
        if (sourceHeld) held['patch.values'] = sourceHeld;
        const feeds: Record<string, Feed> = {
          ...(residHeld ? {} : { resid: f32(cache.base.get(`blocks.${layer}.hook_resid_pre`)!) }),
          ...(sourceHeld ? {} : { 'patch.values': opts.replacement ? opts.replacement(hook, [N, ...familyHookShape(cfg, family, layer, P)]) : f32(cache.source.get(hook)!) }),
          'patch.mask': { dtype: 'bool', shape: [S, 1, ...hShape], data: mask },
          ...metricFeeds(cfg, exp),
          // Metric positions in the computed suffix; with the last layer trimmed, the rows it computes.
          ...positionsFeed(exp, start),
          'rows.index': int64Feed(exp.positions.map((p) => p - start), [exp.positions.length]),
        };
        if (start > 0)
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
        const res = (await runSymbolicKeeping(this.rt, key, sizes, build, feeds, held, () => false)).fetched;
        record(chunk, res.metric_rows.data);
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
    // Kept outputs that are host memory (CPU backends) are readable as they are: the packed hook_z path
    // (z-packed.ts) slices them on the host; on WebGPU they stay GPU buffers and the plain patch graph is fed them.
    const hostKept = Object.entries(held).flatMap(([name, t]) => (t.host ? [[name, t.host] as const] : []));
    for (const [name, t] of [...Object.entries(out), ...hostKept]) {
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
  const baseZ = familyEntry(family).act === 'z'; // hook_z patches start from the base run's z (z-packed.ts)
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
