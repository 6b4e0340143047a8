// Central finite differences of a metric with respect to hook activations and weights, on the float64 reference.
// Each derivative costs two full forward passes: meant for tiny models and a handful of entries.

import type { GPT2Config, Weights } from '../../src/engine/model/types';
import {
  hookShape,
  referenceForwardF64,
  toFloat64Weights,
  type HookFn,
  type WeightsF64,
} from './gpt2-f64';

/** A scalar of the logits [pos, d_vocab]; one-argument functions of the logits fit too. */
export type Metric = (logits: Float64Array, nPos: number, dVocab: number) => number;

export interface FDOptions {
  /**
   * Hooks to hold at their unperturbed values, e.g. `(n) => n.endsWith('hook_scale')` for the gradient with
   * LayerNorm scales treated as constants, `(n) => n.endsWith('hook_pattern')` for frozen attention.
   * The hook being differentiated is never held.
   */
  freeze?: (hookName: string) => boolean;
  /** Hooks applied in every run, e.g. noise added to hook_embed (a corrupted run that is not a token sequence). */
  hooks?: Record<string, HookFn>;
}

/** Hooks that pin every frozen hook (other than `except`) to its value in an unperturbed run. */
function freezeHooks(
  cfg: GPT2Config,
  w: WeightsF64,
  tokens: number[],
  opts: FDOptions,
  except?: string,
): Record<string, HookFn> {
  const hooks: Record<string, HookFn> = { ...opts.hooks };
  if (!opts.freeze) return hooks;
  const { cache } = referenceForwardF64(cfg, w, tokens, { hooks: opts.hooks });
  for (const [name, act] of cache)
    if (name !== except && opts.freeze(name)) hooks[name] = () => act.data.slice();
  return hooks;
}

function allIndices(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * d metric / d activation[index] for each flat index into the hook tensor (all entries when omitted): the hook's
 * value is replaced with itself +- eps at that index and everything downstream recomputed.
 */
export function hookGradFD(
  cfg: GPT2Config,
  weights: Weights,
  tokens: number[],
  metric: Metric,
  hook: string,
  indices?: number[],
  eps = 1e-4,
  opts: FDOptions = {},
): Float64Array {
  const w = toFloat64Weights(cfg, weights);
  const size = hookShape(cfg, hook, tokens.length).reduce((a, b) => a * b, 1);
  const idx = indices ?? allIndices(size);
  const frozen = freezeHooks(cfg, w, tokens, opts, hook);
  // Divides by the step actually taken ((x + eps) - (x - eps) after rounding). A non-finite entry (a masked -inf
  // attention score) has derivative 0, as in autograd through exp(-inf).
  const run = (index: number, delta: number): [number, number] => {
    let taken = NaN;
    const perturb: HookFn = (value) => {
      const out = value.slice();
      out[index] += delta;
      taken = out[index];
      return out;
    };
    const { logits } = referenceForwardF64(cfg, w, tokens, { hooks: { ...frozen, [hook]: perturb } });
    return [metric(logits, tokens.length, cfg.dVocab), taken];
  };
  const grad = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const index = idx[i];
    if (!Number.isInteger(index) || index < 0 || index >= size)
      throw new Error(`index ${index} outside 0..${size - 1} of ${hook}`);
    const [up, xUp] = run(index, eps);
    const [down, xDown] = run(index, -eps);
    grad[i] = Number.isFinite(xUp) && Number.isFinite(xDown) ? (up - down) / (xUp - xDown) : 0;
  }
  return grad;
}

/**
 * d metric / d weight[index] for each flat index into the Hugging Face tensor `weightName` (all entries when
 * omitted). The float64 weight is perturbed, so eps is not rounded to float32.
 */
export function paramGradFD(
  cfg: GPT2Config,
  weights: Weights,
  tokens: number[],
  metric: Metric,
  weightName: string,
  indices?: number[],
  eps = 1e-4,
  opts: FDOptions = {},
): Float64Array {
  const w = toFloat64Weights(cfg, weights);
  const param = w.get(weightName);
  if (!param) throw new Error(`unknown weight ${weightName}`);
  const idx = indices ?? allIndices(param.length);
  const frozen = freezeHooks(cfg, w, tokens, opts);
  // Perturb a private copy so the cached float64 weights shared with other callers are never touched.
  const copy = param.slice();
  const perturbed: WeightsF64 = new Map(w);
  perturbed.set(weightName, copy);
  const run = (): number => {
    const { logits } = referenceForwardF64(cfg, perturbed, tokens, { hooks: frozen });
    return metric(logits, tokens.length, cfg.dVocab);
  };
  const grad = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const index = idx[i];
    if (!Number.isInteger(index) || index < 0 || index >= copy.length)
      throw new Error(`index ${index} outside 0..${copy.length - 1} of ${weightName}`);
    const original = copy[index];
    const xUp = (copy[index] = original + eps);
    const up = run();
    const xDown = (copy[index] = original - eps);
    const down = run();
    copy[index] = original;
    grad[i] = (up - down) / (xUp - xDown); // the step actually taken, after rounding
  }
  return grad;
}
