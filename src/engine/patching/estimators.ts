// Estimators of activation patches: one table entry each. Plain attribution patching (AtP) misses effects through
// saturated softmaxes and cancellations; the others trade compute for fewer misses (Kramár et al. 2024, "AtP*";
// Hanna et al. 2024, "EAP-IG"). The graph code of each lives in attribution.ts; this file is pure data, for the
// CLI's flags and the app's selector.

export interface EstimatorEntry {
  title: string;
  description: string;
  /** false: magnitudes (|.| per pair, then averaged), shown as such. */
  signed: boolean;
  /** Takes `steps` (integrated gradients). */
  steps: boolean;
}

export const ESTIMATORS = {
  atp: {
    title: 'AtP', signed: true, steps: false,
    description: 'Attribution patching: sum((source - base) * d metric / d base), one backward pass.',
  },
  'qk-fix': {
    title: 'AtP, QK fix', signed: true, steps: false,
    description: 'For queries and keys: the attention pattern recomputed exactly with the patched queries (keys), then the linear step after the softmax. Other families: AtP.',
  },
  graddrop: {
    title: 'GradDrop', signed: false, steps: false,
    description: '1/(L-1) * sum over layers l of |AtP with no gradient through layer l\'s attention and MLP outputs into their inputs|.',
  },
  'atp-star': {
    title: 'AtP*', signed: false, steps: false,
    description: 'QK fix with GradDrop for queries and keys, GradDrop for every other family (Kramár et al. 2024). Magnitudes.',
  },
  'ig-inputs': {
    title: 'IG (inputs)', signed: true, steps: true,
    description: 'Integrated gradients along the embeddings (EAP-IG): gradients averaged over m runs with the embeddings interpolated from base towards source.',
  },
  'ig-layer': {
    title: 'IG (layer)', signed: true, steps: true,
    description: 'Integrated gradients per family and layer: that activation interpolated from base to source, the rest of the model recomputed downstream.',
  },
} as const satisfies Record<string, EstimatorEntry>;

export type Method = keyof typeof ESTIMATORS;

export const METHODS = Object.keys(ESTIMATORS) as Method[];

export function isMethod(name: string): name is Method {
  return Object.hasOwn(ESTIMATORS, name);
}

/** The families whose QK fix replaces the gradient through the softmax (queries and keys). */
export const QK_FAMILIES = ['q', 'k', 'q_by_pos', 'k_by_pos'] as const;

/** Checks a method and its step count; a specific message names what is wrong. */
export function checkMethod(method: string, steps: number): Method {
  if (!isMethod(method)) throw new Error(`Unknown estimator "${method}"; choose from ${METHODS.join(', ')}.`);
  if (!Number.isInteger(steps) || steps < 1 || steps > 256) throw new Error(`--steps must be an integer from 1 to 256, got ${steps}.`);
  if (steps !== 1 && !ESTIMATORS[method].steps) throw new Error(`The ${method} estimator takes no steps (only ig-inputs and ig-layer do).`);
  return method;
}
