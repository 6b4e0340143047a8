// Adam(W) and a warmup + cosine learning-rate schedule, in plain TypeScript over Float32Array parameters.

import type { Weights } from '../model/types';

export interface AdamOptions {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (AdamW), applied to `decay` parameters only. */
  weightDecay: number;
  /** Which parameters decay; by default matrices and embeddings, not biases or LayerNorm gains (as nanoGPT). */
  decay?: (name: string, shape: readonly number[]) => boolean;
}

export const ADAM_DEFAULTS: AdamOptions = { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0 };

/** Adam with bias correction; moments in float64 would double memory for no visible gain, so float32. */
export class Adam {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;
  readonly opts: AdamOptions;

  constructor(
    private readonly params: Weights,
    opts: Partial<AdamOptions> = {},
  ) {
    this.opts = { ...ADAM_DEFAULTS, ...opts };
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.data.length));
      this.v.set(name, new Float32Array(p.data.length));
    }
  }

  get steps(): number {
    return this.t;
  }

  /** One update in place with learning rate `lr`; `grads` must hold a gradient for every parameter. */
  step(grads: Map<string, Float32Array>, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const decays = this.opts.decay ?? ((_n: string, shape: readonly number[]) => shape.length >= 2);
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g || g.length !== p.data.length) throw new Error(`Adam: no gradient of the right size for ${name}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const x = p.data;
      const shrink = weightDecay > 0 && decays(name, p.shape) ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < x.length; i++) {
        const gi = g[i];
        const mi = (m[i] = beta1 * m[i] + (1 - beta1) * gi);
        const vi = (v[i] = beta2 * v[i] + (1 - beta2) * gi * gi);
        x[i] = x[i] * shrink - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
      }
    }
  }
}

export interface Schedule {
  peak: number;
  warmup: number;
  total: number;
  /** The floor the cosine decays to, as a fraction of peak. */
  minRatio: number;
}

/** Linear warmup over `warmup` steps to `peak`, then cosine decay to `peak * minRatio` at `total`. Step from 0. */
export function learningRate(step: number, s: Schedule): number {
  if (step < s.warmup) return (s.peak * (step + 1)) / s.warmup;
  const progress = Math.min(1, (step - s.warmup) / Math.max(1, s.total - s.warmup));
  const floor = s.peak * s.minRatio;
  return floor + 0.5 * (s.peak - floor) * (1 + Math.cos(Math.PI * progress));
}
