// Deterministic random GPT-2 checkpoints in the Hugging Face hub layout, for tests and offline demos.
// Same seed -> same bytes on every machine: the PRNG is our own, and each tensor has its own stream
// (seeded from the run seed and the tensor name), so tensors can be generated one at a time, in any order.

import type { FloatDtype, TensorToWrite } from './safetensors';
import type { GPT2Config } from './types';
import { numel } from '../graph/shape';

export const GPT2_SMALL_CONFIG: GPT2Config = {
  name: 'gpt2-small',
  nLayers: 12,
  nHeads: 12,
  dModel: 768,
  dHead: 64,
  dMlp: 3072,
  nCtx: 1024,
  dVocab: 50257,
  layerNormEps: 1e-5,
  activation: 'gelu_new',
};

/** Small enough for WebGPU-on-SwiftShader tests, with the real vocabulary so the real tokenizer works with it. */
export const TINY_GPT2_CONFIG: GPT2Config = {
  name: 'gpt2-tiny',
  nLayers: 2,
  nHeads: 4,
  dModel: 64,
  dHead: 16,
  dMlp: 256,
  nCtx: 128,
  dVocab: 50257,
  layerNormEps: 1e-5,
  activation: 'gelu_new',
};

export const CHECKPOINT_PRESETS = { 'gpt2-small': GPT2_SMALL_CONFIG, tiny: TINY_GPT2_CONFIG } as const;

/** The config.json that transformers would write for `cfg` (both n_ctx and n_positions, as the hub's gpt2 has). */
export function hfConfigJson(cfg: GPT2Config): Record<string, unknown> {
  return {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    initializer_range: 0.02,
    layer_norm_epsilon: cfg.layerNormEps,
    model_type: 'gpt2',
    n_ctx: cfg.nCtx,
    n_embd: cfg.dModel,
    n_head: cfg.nHeads,
    n_inner: cfg.dMlp === 4 * cfg.dModel ? null : cfg.dMlp,
    n_layer: cfg.nLayers,
    n_positions: cfg.nCtx,
    vocab_size: cfg.dVocab,
  };
}

export interface CheckpointTensor {
  name: string;
  shape: number[];
  /** Compute the values (float32); called once per write, so a writer can hold one tensor at a time. */
  generate(): Float32Array;
}

/**
 * Every tensor of the checkpoint in openai-community/gpt2's order and naming (no `transformer.` prefix), including
 * the legacy causal-mask buffer h.{l}.attn.bias [1, 1, n_ctx, n_ctx] that loaders must skip.
 * Init follows GPT-2: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer); unlike GPT-2, LayerNorm weights
 * are 1 + N(0, 0.1) and every bias is N(0, 0.02), so that tests notice a loader or graph that drops one.
 */
export function checkpointTensors(cfg: GPT2Config, seed: number): CheckpointTensor[] {
  const { dModel: d, dMlp, nCtx, dVocab } = cfg;
  const projStd = 0.02 / Math.sqrt(2 * cfg.nLayers);
  const normal = (name: string, shape: number[], mean: number, std: number): CheckpointTensor => ({
    name,
    shape,
    generate: () => gaussian(numel(shape), mean, std, mulberry32(hashSeed(seed, name))),
  });
  const weight = (name: string, shape: number[], std = 0.02) => normal(name, shape, 0, std);
  const bias = (name: string, size: number) => normal(name, [size], 0, 0.02);
  const lnWeight = (name: string) => normal(name, [d], 1, 0.1);

  const tensors = [weight('wte.weight', [dVocab, d]), weight('wpe.weight', [nCtx, d])];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `h.${l}.`;
    tensors.push(
      lnWeight(p + 'ln_1.weight'),
      bias(p + 'ln_1.bias', d),
      { name: p + 'attn.bias', shape: [1, 1, nCtx, nCtx], generate: () => causalMask(nCtx) },
      weight(p + 'attn.c_attn.weight', [d, 3 * d]),
      bias(p + 'attn.c_attn.bias', 3 * d),
      weight(p + 'attn.c_proj.weight', [d, d], projStd),
      bias(p + 'attn.c_proj.bias', d),
      lnWeight(p + 'ln_2.weight'),
      bias(p + 'ln_2.bias', d),
      weight(p + 'mlp.c_fc.weight', [d, dMlp]),
      bias(p + 'mlp.c_fc.bias', dMlp),
      weight(p + 'mlp.c_proj.weight', [dMlp, d], projStd),
      bias(p + 'mlp.c_proj.bias', d),
    );
  }
  tensors.push(lnWeight('ln_f.weight'), bias('ln_f.bias', d));
  return tensors;
}

export interface RandomCheckpoint {
  /** config.json content. */
  config: Record<string, unknown>;
  /** model.safetensors content, in file order; pass to encodeSafetensors. */
  tensors: Map<string, TensorToWrite>;
  metadata: Record<string, string>;
}

/** The whole checkpoint in memory. For GPT-2-Small sizes prefer writeRandomCheckpoint, which streams. */
export function randomCheckpoint(cfg: GPT2Config, seed: number, dtype: FloatDtype = 'F32'): RandomCheckpoint {
  const tensors = new Map<string, TensorToWrite>();
  for (const t of checkpointTensors(cfg, seed)) tensors.set(t.name, { dtype, shape: t.shape, data: t.generate() });
  return { config: hfConfigJson(cfg), tensors, metadata: checkpointMetadata(seed) };
}

export function checkpointMetadata(seed: number): Record<string, string> {
  return { format: 'pt', source: 'patchwork random checkpoint', seed: String(seed) };
}

function causalMask(nCtx: number): Float32Array {
  const mask = new Float32Array(nCtx * nCtx);
  for (let q = 0; q < nCtx; q++) mask.fill(1, q * nCtx, q * nCtx + q + 1);
  return mask;
}

// ---------------------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a 32-bit state PRNG, uniform in [0, 1). Small, fast, and identical in every JS engine. */
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

/** FNV-1a over "seed/name": independent streams per tensor. */
export function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${name}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/** Box-Muller, both outputs used. */
export function gaussian(n: number, mean: number, std: number, uniform: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - uniform())); // 1 - u is in (0, 1]: log never sees 0
    const theta = 2 * Math.PI * uniform();
    out[i] = mean + r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = mean + r * Math.sin(theta);
  }
  return out;
}
