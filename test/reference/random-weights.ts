// Seeded random GPT-2 configs and weights for tests. Scaled so activations are O(1): attention patterns are far
// from uniform, GELU sees both of its regimes, and every bias is non-zero (so a dropped bias shows).

import { expectedWeightShapes, type GPT2Config, type Weights } from '../../src/engine/model/types';

/** A small GPT-2 config; dHead and dMlp follow dModel and nHeads unless given. */
export function tinyConfig(overrides: Partial<GPT2Config> = {}): GPT2Config {
  const nHeads = overrides.nHeads ?? 4;
  const dModel = overrides.dModel ?? 16;
  return {
    name: 'tiny-random',
    nLayers: 3,
    nHeads,
    dModel,
    dHead: dModel / nHeads,
    dMlp: 4 * dModel,
    nCtx: 32,
    dVocab: 50,
    layerNormEps: 1e-5,
    activation: 'gelu_new',
    ...overrides,
  };
}

/** mulberry32: a small, fast 32-bit PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform PRNG (Box-Muller). */
export function gaussian(rng: () => number): () => number {
  return () => {
    const u = 1 - rng(); // (0, 1], so log(u) is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  };
}

/**
 * A full Weights map for `cfg` (every name of expectedWeightShapes), deterministic in `seed`:
 * LayerNorm weights 1 + 0.1 N, all biases 0.1 N, embeddings 0.5 N, Conv1D weights [in, out] N / sqrt(in).
 */
export function randomWeights(cfg: GPT2Config, seed = 1): Weights {
  const randn = gaussian(mulberry32(seed));
  const weights: Weights = new Map();
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isLn = /(^|\.)ln_(1|2|f)\./.test(name);
    let sample: () => number;
    if (isLn && name.endsWith('.weight')) sample = () => 1 + 0.1 * randn();
    else if (name.endsWith('.bias')) sample = () => 0.1 * randn();
    else if (name === 'wte.weight' || name === 'wpe.weight') sample = () => 0.5 * randn();
    else sample = () => randn() / Math.sqrt(shape[0]);
    for (let i = 0; i < data.length; i++) data[i] = sample();
    weights.set(name, { shape: [...shape], data });
  }
  return weights;
}

/** n tokens drawn uniformly from the vocabulary, deterministic in `seed`. */
export function randomTokens(cfg: GPT2Config, n: number, seed = 2): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rng() * cfg.dVocab));
}
