// Reference activation patching: run the source prompt, cache one hook, rerun the target prompt with the hook's
// selected entries replaced by the source's values, and read the metric. Denoising: target = corrupted,
// source = clean; noising: the reverse.

import type { GPT2Config, Weights } from '../../src/engine/model/types';
import type { Metric } from './finite-diff';
import { referenceForwardF64, toFloat64Weights, type ForwardResult } from './gpt2-f64';

export interface PatchSpec {
  /** The run being patched. */
  target: number[];
  /** The run the patched values come from; same length as target. */
  source: number[];
  /** TransformerLens hook name, e.g. `blocks.5.attn.hook_z`. */
  hook: string;
  /** Flat indices into the hook tensor, or a predicate on the flat index; omitted: every entry. */
  mask?: number[] | ((flatIndex: number) => boolean);
  metric: Metric;
}

/** The patched target run itself: logits and the cache (which holds the patched hook value). */
export function referencePatchForward(cfg: GPT2Config, weights: Weights, spec: PatchSpec): ForwardResult {
  const { target, source, hook, mask } = spec;
  if (target.length !== source.length)
    throw new Error(`target has ${target.length} tokens, source ${source.length}: patching needs equal lengths`);
  const w = toFloat64Weights(cfg, weights);
  const sourceValue = referenceForwardF64(cfg, w, source).cache.get(hook);
  if (!sourceValue) throw new Error(`unknown hook ${hook}`);
  let selected: (flatIndex: number) => boolean;
  if (mask === undefined) selected = () => true;
  else if (typeof mask === 'function') selected = mask;
  else {
    for (const i of mask)
      if (!Number.isInteger(i) || i < 0 || i >= sourceValue.data.length)
        throw new Error(`index ${i} outside 0..${sourceValue.data.length - 1} of ${hook}`);
    const set = new Set(mask);
    selected = (i) => set.has(i);
  }
  return referenceForwardF64(cfg, w, target, {
    hooks: {
      [hook]: (value) => {
        const out = value.slice();
        for (let i = 0; i < out.length; i++) if (selected(i)) out[i] = sourceValue.data[i];
        return out;
      },
    },
  });
}

/** The metric of the target run with the hook's masked entries taken from the source run. */
export function referencePatch(cfg: GPT2Config, weights: Weights, spec: PatchSpec): number {
  const { logits } = referencePatchForward(cfg, weights, spec);
  return spec.metric(logits, spec.target.length, cfg.dVocab);
}
