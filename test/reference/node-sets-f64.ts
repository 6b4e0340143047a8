// Float64 reference for sets of node cells (issue #10): several hooks patched together in one run of the reference
// GPT-2 (gpt2-f64.ts), and the attribution of a run in which such a set is already patched, as a central finite
// difference of the metric along (source - patched base) over one cell's entries. Entries are given as predicates
// on flat hook indices; nothing here knows the engine's families or cell selection.

import type { GPT2Config, Weights } from '../../src/engine/model/types';
import type { Metric } from './finite-diff';
import { referenceForwardF64, toFloat64Weights, type HookFn, type WeightsF64 } from './gpt2-f64';

export interface HookEntries {
  hook: string;
  select: (flat: number) => boolean;
}

export interface NodePair {
  base: number[];
  source: number[];
  metric: Metric;
}

function run(cfg: GPT2Config, w: WeightsF64, pair: NodePair, tokens: number[], hooks: Record<string, HookFn> = {}) {
  const r = referenceForwardF64(cfg, w, tokens, { hooks });
  return { metric: pair.metric(r.logits, tokens.length, cfg.dVocab), cache: r.cache };
}

/** Hooks that replace every patched entry of the base run by the source run's value; `extra` edits after that. */
function patchHooks(patches: HookEntries[], source: Map<string, { data: Float64Array }>, extra?: { hook: string; edit: (x: Float64Array) => void }) {
  const hooks: Record<string, HookFn> = {};
  const names = new Set([...patches.map((p) => p.hook), ...(extra ? [extra.hook] : [])]);
  for (const name of names)
    hooks[name] = (value) => {
      const out = value.slice();
      const src = source.get(name)!.data;
      for (const p of patches) if (p.hook === name) for (let i = 0; i < out.length; i++) if (p.select(i)) out[i] = src[i];
      if (extra?.hook === name) extra.edit(out);
      return out;
    };
  return hooks;
}

/** metric(base with every listed entry from the source run) - metric(base), mean over pairs. */
export function referenceJointPatch(cfg: GPT2Config, weights: Weights, pairs: NodePair[], patches: HookEntries[]): number {
  const w = toFloat64Weights(cfg, weights);
  let total = 0;
  for (const pair of pairs) {
    const source = run(cfg, w, pair, pair.source).cache;
    total += run(cfg, w, pair, pair.base, patchHooks(patches, source)).metric - run(cfg, w, pair, pair.base).metric;
  }
  return total / pairs.length;
}

/**
 * Attribution of each cell on the base run with `patches` applied: sum over the cell's entries of
 * (source - patched base) * dM/d(entry), i.e. the derivative of M along that direction, mean over pairs.
 */
export function referenceConditionalAttribution(cfg: GPT2Config, weights: Weights, pairs: NodePair[], patches: HookEntries[], cells: HookEntries[], eps = 1e-3): number[] {
  const w = toFloat64Weights(cfg, weights);
  const out = cells.map(() => 0);
  for (const pair of pairs) {
    const source = run(cfg, w, pair, pair.source).cache;
    const patched = run(cfg, w, pair, pair.base, patchHooks(patches, source)).cache;
    cells.forEach((cell, c) => {
      const [src, at] = [source.get(cell.hook)!.data, patched.get(cell.hook)!.data];
      const along = (sign: number) =>
        run(cfg, w, pair, pair.base, patchHooks(patches, source, {
          hook: cell.hook,
          edit: (x) => {
            for (let i = 0; i < x.length; i++) if (cell.select(i)) x[i] += sign * eps * (src[i] - at[i]);
          },
        })).metric;
      out[c] += (along(1) - along(-1)) / (2 * eps) / pairs.length;
    });
  }
  return out;
}
