import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_PRESETS,
  checkpointTensors,
  gaussian,
  GPT2_SMALL_CONFIG,
  hashSeed,
  hfConfigJson,
  mulberry32,
  randomCheckpoint,
} from './checkpoint';
import { parseGPT2Config } from './config';
import { expectedWeightShapes, type GPT2Config } from './types';

const TINY: GPT2Config = {
  name: 'tiny', nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, nCtx: 6, dVocab: 11,
  layerNormEps: 1e-5, activation: 'gelu_new',
};

const MASK = /\.attn\.bias$/;

function stats(xs: Float32Array) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std };
}

describe('PRNG', () => {
  it('is mulberry32, pinned so that checkpoints stay identical across machines and versions', () => {
    const next = mulberry32(42);
    expect([next(), next(), next()].map((x) => Math.round(x * 2 ** 32))).toEqual([2581720956, 1925393290, 3661312704]);
    expect(hashSeed(0, 'wte.weight')).toBe(hashSeed(0, 'wte.weight'));
    expect(hashSeed(0, 'wte.weight')).not.toBe(hashSeed(1, 'wte.weight'));
  });

  it('draws standard normals', () => {
    const { mean, std } = stats(gaussian(200_001, 0, 1, mulberry32(7)));
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
  });
});

describe('randomCheckpoint', () => {
  it('has the hub layout: every expected tensor plus the legacy attn.bias buffer, no prefix', () => {
    const { tensors } = randomCheckpoint(TINY, 0);
    const expected = expectedWeightShapes(TINY);
    const names = [...tensors.keys()];
    expect(names.filter((n) => !MASK.test(n))).toEqual([...expected.keys()]);
    expect(names.filter((n) => MASK.test(n))).toEqual(['h.0.attn.bias', 'h.1.attn.bias']);
    for (const [name, shape] of expected) expect(tensors.get(name)!.shape).toEqual(shape);
    const mask = tensors.get('h.0.attn.bias')!;
    expect(mask.shape).toEqual([1, 1, 6, 6]);
    expect([...mask.data.subarray(6, 12)]).toEqual([1, 1, 0, 0, 0, 0]); // query 1 sees keys 0 and 1
  });

  it('is deterministic per seed, and each tensor has its own stream', () => {
    const a = randomCheckpoint(TINY, 3);
    const b = randomCheckpoint(TINY, 3);
    const c = randomCheckpoint(TINY, 4);
    for (const [name, t] of a.tensors) expect(b.tensors.get(name)!.data).toEqual(t.data);
    expect(c.tensors.get('wte.weight')!.data).not.toEqual(a.tensors.get('wte.weight')!.data);
    // Generating one tensor alone gives the same values as generating them all.
    const alone = checkpointTensors(TINY, 3).find((t) => t.name === 'h.1.mlp.c_fc.bias')!.generate();
    expect(alone).toEqual(a.tensors.get('h.1.mlp.c_fc.bias')!.data);
    expect(a.tensors.get('h.0.ln_1.bias')!.data).not.toEqual(a.tensors.get('h.0.ln_2.bias')!.data);
  });

  it('initialises like GPT-2, with LayerNorm weights near 1 and non-zero biases', () => {
    const { tensors } = randomCheckpoint({ ...TINY, dModel: 64, dHead: 32, dMlp: 256, dVocab: 500 }, 1);
    const wte = stats(tensors.get('wte.weight')!.data);
    expect(Math.abs(wte.std - 0.02)).toBeLessThan(0.001);
    const proj = stats(tensors.get('h.0.mlp.c_proj.weight')!.data);
    expect(Math.abs(proj.std - 0.01)).toBeLessThan(0.001); // 0.02 / sqrt(2 * n_layer)
    const ln = stats(tensors.get('h.1.ln_2.weight')!.data);
    expect(Math.abs(ln.mean - 1)).toBeLessThan(0.05);
    expect(ln.std).toBeGreaterThan(0.05);
    for (const [name, t] of tensors) {
      if (name.endsWith('.bias') && !MASK.test(name)) expect(t.data.every((x) => x !== 0)).toBe(true);
    }
  });

  it('writes a config.json that parses back to the same config', () => {
    const { config } = randomCheckpoint(TINY, 0);
    expect(config).toMatchObject({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_inner: 12 });
    expect(parseGPT2Config(JSON.parse(JSON.stringify(config)), 'tiny')).toEqual(TINY);
    for (const preset of Object.values(CHECKPOINT_PRESETS)) {
      expect(hfConfigJson(preset).n_inner).toBeNull();
      expect(parseGPT2Config(hfConfigJson(preset), preset.name)).toEqual(preset);
    }
    expect(GPT2_SMALL_CONFIG).toMatchObject({ nLayers: 12, nHeads: 12, dModel: 768, dMlp: 3072, nCtx: 1024, dVocab: 50257 });
  });

  it('converts to the requested dtype', () => {
    expect([...randomCheckpoint(TINY, 0, 'BF16').tensors.values()].every((t) => t.dtype === 'BF16')).toBe(true);
  });
});
