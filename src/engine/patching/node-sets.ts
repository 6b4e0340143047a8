// Sets of node cells (issue #10): patch several cells together, of any families and layers, in one exact run; and
// attribute on a run in which a set of cells is already patched (the seed's "patch in the known variables, then
// attribute"). Cells are named as in the node CLI: `head_out_all_pos[1][0]`, `mlp_out[0][10]`.
import { Graph, Where, type Tensor } from '../graph';
import { numel } from '../graph/shape';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Runtime } from '../runtime/types';
import { experimentKey, tokenFeed } from './attribution';
import type { Experiment } from './experiment';
import { cellSelector, familyShape, isFamily, FAMILIES } from './families';
import { meanOf, metricFeeds, metricInputs, metricRows } from './metrics';
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
  g.output(meanOf(metricRows(cfg, w, gpt2Forward(cfg, w, baseTokens), exp, mIn)), 'metric.base');
  g.output(meanOf(metricRows(cfg, w, gpt2Forward(cfg, w, baseTokens, patched), exp, mIn)), 'metric.patched');
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
