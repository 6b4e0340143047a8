// Sets of node cells (issue #10): patch several cells together, of any families and layers, in one exact run; and
// attribute on a run in which a set of cells is already patched (the seed's "patch in the known variables, then
// attribute"). Cells are named as in the node CLI: `head_out_all_pos[1][0]`, `mlp_out[0][10]`.
import { Expand, Graph, Reshape, Where, type Tensor } from '../graph';
import { numel } from '../graph/shape';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Runtime } from '../runtime/types';
import { experimentKey, tokenFeed } from './attribution';
import type { Experiment } from './experiment';
import { cellSelector, familyShape, isFamily, FAMILIES } from './families';
import { hookShapesOf } from './hook-shapes';
import { meanOf, metricFeeds, metricInputs, metricOf, noHook } from './metrics';
import type { Family } from './types';

export interface Cell {
  family: Family;
  index: number[];
}

export class CellNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CellNameError';
  }
}

export const cellName = (c: Cell) => `${c.family}${c.index.map((i) => `[${i}]`).join('')}`;

/** Parses `head_out_all_pos[1][0]`, checking the family and every index against the model and prompt length. */
export function parseCell(cfg: GPT2Config, nPos: number, text: string): Cell {
  const m = text.trim().match(/^([a-z_]+)((?:\[\d+\])+)$/);
  if (!m) throw new CellNameError(`Cell "${text}" is not of the form family[layer][...], e.g. head_out_all_pos[1][0] or mlp_out[0][10].`);
  const family = m[1];
  if (!isFamily(family)) throw new CellNameError(`Cell "${text}": unknown family "${family}"; choose from ${FAMILIES.join(', ')}.`);
  const index = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
  const shape = familyShape(family, cfg, nPos);
  if (index.length !== shape.length)
    throw new CellNameError(`Cell "${text}": ${family} cells have ${shape.length} indices ([${shape.join('][')}] here), not ${index.length}.`);
  index.forEach((i, a) => {
    if (i >= shape[a]) throw new CellNameError(`Cell "${text}": index ${a} is ${i}, outside 0..${shape[a] - 1}.`);
  });
  return { family, index };
}

export function parseCells(cfg: GPT2Config, nPos: number, list: string): Cell[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new CellNameError('No cells given; name them like head_out_all_pos[1][0],mlp_out[0][10].');
  return names.map((n) => parseCell(cfg, nPos, n));
}

/**
 * Cells as a replacement rule for hooks: `hooks` lists the hooks they touch; `replace(hook, base, source)` returns
 * the base value [batch, ...hook] with the cells' entries taken from `source`. attribution.ts uses it too.
 */
export interface CellPatch {
  hooks: string[];
  key: string;
  replace(hook: string, base: Tensor, source: Tensor): Tensor;
}

export function cellPatch(cells: Cell[]): CellPatch {
  const selectors = cells.map((c) => cellSelector(c.family, c.index));
  /** Entries of the hook (shape without the batch axis) that some cell selects. */
  const mask = (hook: string, shape: readonly number[]) => {
    const sels = selectors.filter((s) => s.hook === hook);
    const size = numel(shape);
    const out: number[] = new Array(size).fill(0);
    const coord = shape.map(() => 0);
    for (let e = 0; e < size; e++) {
      if (sels.some((s) => s.select(coord))) out[e] = 1;
      for (let a = shape.length - 1; a >= 0; a--) {
        if (++coord[a] < shape[a]) break;
        coord[a] = 0;
      }
    }
    return out;
  };
  return {
    hooks: [...new Set(selectors.map((s) => s.hook))],
    key: cells.map(cellName).join(','),
    replace(hook, base, source) {
      const shape = base.shape.slice(1);
      return Where(base.graph.constant(mask(hook, shape), [1, ...shape], 'bool'), source, base);
    },
  };
}

/** One run: the source forward, the base forward and the base forward with every cell of the set patched together. */
function jointGraph(cfg: GPT2Config, exp: Experiment, patch: CellPatch): Graph {
  const g = new Graph('joint-patch');
  const w = weightInputs(g, cfg);
  const mIn = metricInputs(g, cfg, exp);
  const [N, P] = [exp.nPairs, exp.nPos];
  const source = new Map<string, Tensor>();
  const hooks = new Set(patch.hooks);
  gpt2Forward(cfg, w, g.input('tokens.source', [N, P], 'int64'), (name, t) => {
    if (hooks.has(name)) source.set(name, t);
    return t;
  });
  const baseTokens = g.input('tokens.base', [N, P], 'int64');
  const patched = (name: string, t: Tensor) => (hooks.has(name) ? patch.replace(name, t, source.get(name)!) : t);
  g.output(meanOf(metricOf(cfg, w, exp, mIn, (wrap) => gpt2Forward(cfg, w, baseTokens, wrap(noHook)))), 'metric.base');
  g.output(meanOf(metricOf(cfg, w, exp, mIn, (wrap) => gpt2Forward(cfg, w, baseTokens, wrap(patched)))), 'metric.patched');
  return g;
}

/** The exact patch of every cell together: metric(base with all cells from the source run) - metric(base). */
export async function jointPatch(rt: Runtime, cfg: GPT2Config, exp: Experiment, cells: Cell[]): Promise<number> {
  if (!cells.length) throw new CellNameError('No cells to patch.');
  const patch = cellPatch(cells);
  const denoising = exp.spec.direction === 'denoising';
  const out = await rt.run(`joint:${cfg.name}:${experimentKey(exp)}:${exp.spec.direction}:${patch.key}`, () => jointGraph(cfg, exp, patch), {
    'tokens.base': tokenFeed(denoising ? exp.corrupted : exp.clean),
    'tokens.source': tokenFeed(denoising ? exp.clean : exp.corrupted),
    ...metricFeeds(cfg, exp),
  });
  return out['metric.patched'].data[0] - out['metric.base'].data[0];
}

export interface OnTopOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * K runs of the base run with the set patched, each with one more cell of `hook` patched from the source run (a fed
 * mask [K, 1, ...hook]), and the base run with the set alone: metric rows [K x nPairs] and metric.base.
 */
function onTopGraph(cfg: GPT2Config, exp: Experiment, set: CellPatch, hook: string, K: number): Graph {
  const g = new Graph('on-top');
  const w = weightInputs(g, cfg);
  const mIn = metricInputs(g, cfg, exp);
  const [N, P] = [exp.nPairs, exp.nPos];
  const hooks = new Set([...set.hooks, hook]);
  const source = new Map<string, Tensor>();
  gpt2Forward(cfg, w, g.input('tokens.source', [N, P], 'int64'), (name, t) => {
    if (hooks.has(name)) source.set(name, t);
    return t;
  });
  const tileK = (t: Tensor) => Reshape(Expand(Reshape(t, [1, ...t.shape]), [K, ...t.shape]), [K * N, ...t.shape.slice(1)]);
  const setHooks = new Set(set.hooks);
  const baseTokens = g.input('tokens.base', [N, P], 'int64');
  const withSet = (name: string, t: Tensor) => (setHooks.has(name) ? set.replace(name, t, source.get(name)!) : t);
  g.output(meanOf(metricOf(cfg, w, exp, mIn, (wrap) => gpt2Forward(cfg, w, baseTokens, wrap(withSet)))), 'metric.base');
  g.output(metricOf(cfg, w, exp, mIn, (wrap) => gpt2Forward(cfg, w, tileK(baseTokens), wrap((name, t) => {
    const v = setHooks.has(name) ? set.replace(name, t, tileK(source.get(name)!)) : t; // [K * N, ...hook]
    if (name !== hook) return v;
    const shape = t.shape.slice(1);
    const mask = g.input('cell.mask', [K, 1, ...shape], 'bool');
    return Reshape(Where(mask, Reshape(source.get(name)!, [1, N, ...shape]), Reshape(v, [K, N, ...shape])), t.shape);
  }))), 'metric_rows');
  return g;
}

/**
 * Exact patches of cells on top of a set (the app's "Attribute on top"): for each cell c,
 * metric(base with set + c patched) - metric(base with the set patched). Cells of one hook share a session run.
 */
export async function patchOnTop(
  rt: Runtime, cfg: GPT2Config, exp: Experiment, set: Cell[], family: Family, indices: number[][], opts: OnTopOptions = {},
): Promise<Float64Array> {
  if (!set.length) throw new CellNameError('No cells in the set to patch on top of.');
  const patch = cellPatch(set);
  const [N, P] = [exp.nPairs, exp.nPos];
  const denoising = exp.spec.direction === 'denoising';
  const feeds = {
    'tokens.base': tokenFeed(denoising ? exp.corrupted : exp.clean),
    'tokens.source': tokenFeed(denoising ? exp.clean : exp.corrupted),
    ...metricFeeds(cfg, exp),
  };
  const byHook = new Map<string, number[]>();
  indices.forEach((index, i) => {
    const hook = cellSelector(family, index).hook;
    byHook.set(hook, [...(byHook.get(hook) ?? []), i]);
  });
  const out = new Float64Array(indices.length);
  const K0 = Math.max(1, Math.min(32, Math.floor(1024 / (N * P))));
  let done = 0;
  for (const [hook, rows] of byHook) {
    const shape = hookShapesOf(cfg, P).get(hook)!;
    const size = numel(shape);
    for (let first = 0; first < rows.length; first += K0) {
      if (opts.signal?.aborted) throw new DOMException('The patches were cancelled.', 'AbortError');
      const chunk = rows.slice(first, first + K0);
      const K = chunk.length;
      const mask = new Uint8Array(K * size);
      chunk.forEach((i, k) => {
        const sel = cellSelector(family, indices[i]);
        const coord = shape.map(() => 0);
        for (let e = 0; e < size; e++) {
          if (sel.select(coord)) mask[k * size + e] = 1;
          for (let a = shape.length - 1; a >= 0; a--) {
            if (++coord[a] < shape[a]) break;
            coord[a] = 0;
          }
        }
      });
      const key = `ontop:${cfg.name}:${experimentKey(exp)}:${exp.spec.direction}:${patch.key}:${hook}:${K}`;
      const res = await rt.run(key, () => onTopGraph(cfg, exp, patch, hook, K), {
        ...feeds,
        'cell.mask': { dtype: 'bool', shape: [K, 1, ...shape], data: mask },
      });
      const base = res['metric.base'].data[0];
      const m = res.metric_rows.data;
      chunk.forEach((i, k) => {
        let s = 0;
        for (let b = 0; b < N; b++) s += m[k * N + b];
        out[i] = s / N - base;
      });
      done += K;
      opts.onProgress?.(done, indices.length);
    }
  }
  return out;
}
