// GPT-2's initialisation (Radford et al. 2019, as in nanoGPT): every matrix and embedding N(0, 0.02), residual
// output projections N(0, 0.02 / sqrt(2 n_layer)), LayerNorm gains 1, biases 0. Deterministic in the seed, one PRNG
// stream per tensor (checkpoint.ts's hashSeed), so adding a tensor does not reshuffle the others.

import { gaussian, hashSeed, mulberry32 } from '../model/checkpoint';
import { expectedWeightShapes, type GPT2Config, type Weights } from '../model/types';
import { numel } from '../graph/shape';

export interface InitOptions {
  /** Std of wte and wpe (GPT-2: 0.02). */
  embedStd?: number;
}

export function initWeights(cfg: GPT2Config, seed: number, opts: InitOptions = {}): Weights {
  const embedStd = opts.embedStd ?? 0.02;
  const weights: Weights = new Map();
  const projStd = 0.02 / Math.sqrt(2 * cfg.nLayers);
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    const n = numel(shape);
    let data: Float32Array;
    if (/ln_(1|2|f)\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith('.bias')) data = new Float32Array(n);
    else {
      const std = name.endsWith('c_proj.weight') ? projStd : name === 'wte.weight' || name === 'wpe.weight' ? embedStd : 0.02;
      data = gaussian(n, 0, std, mulberry32(hashSeed(seed, name)));
    }
    weights.set(name, { shape: [...shape], data });
  }
  return weights;
}
