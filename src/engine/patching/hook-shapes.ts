// Hook shapes come from the model itself: a dry run of gpt2Forward (a graph built, never run) records the shape
// at every hook point, so a layout change in gpt2.ts cannot leave a stale copy here.
import { Graph } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { ACTIVATIONS, hookAxes, hookFor, hookPosAxis, type Family } from './families';

const recorded = new Map<string, Map<string, number[]>>();

/** Every hook's shape without the batch axis, for a model and a prompt of nPos tokens. */
export function hookShapesOf(cfg: GPT2Config, nPos: number): Map<string, number[]> {
  const key = `${JSON.stringify(cfg)}:${nPos}`;
  let shapes = recorded.get(key);
  if (!shapes) {
    shapes = new Map();
    const g = new Graph('dry-run');
    const m = shapes;
    gpt2Forward(cfg, weightInputs(g, cfg), g.input('tokens', [1, nPos], 'int64'), (name, t) => (m.set(name, t.shape.slice(1)), t));
    for (const [act, { hook, axes }] of Object.entries(ACTIVATIONS)) {
      const shape = shapes.get(`blocks.0.${hook}`);
      if (shape?.length !== axes.length) throw new Error(`hook-shapes: activation ${act} (${hook}) has shape [${shape}] in the model, but the family table gives it axes [${axes}]`);
    }
    recorded.set(key, shapes);
    if (recorded.size > 16) recorded.delete(recorded.keys().next().value!);
  }
  return shapes;
}

/**
 * Shape of a family's hook at a layer without the batch axis; with `start`, for the positions start.. only, as a
 * suffix run computes them (for attention patterns: query positions start.., every key).
 */
export function familyHookShape(cfg: GPT2Config, family: Family, layer: number, nPos: number, start = 0): number[] {
  const shape = [...hookShapesOf(cfg, nPos).get(hookFor(family, layer))!];
  if (shape.length !== hookAxes(family).length) throw new Error(`hook-shapes: ${hookFor(family, layer)} has rank ${shape.length}`);
  shape[hookPosAxis(family)] -= start;
  return shape;
}
