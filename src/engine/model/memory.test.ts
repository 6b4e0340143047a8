// The memory check before a model loads: parameter counts against the published figures of the GPT-2 family (as
// transformers' num_parameters() reports them, tied unembedding), and each limit refusing with its figure.
import { describe, expect, it } from 'vitest';
import { knownHubConfig } from './config';
import { memoryShortfall, modelMemory } from './memory';
import type { GPT2Config } from './types';

const gpt2 = (name: string, nLayers: number, dModel: number, nHeads: number): GPT2Config => ({
  name, nLayers, dModel, nHeads, dHead: dModel / nHeads, dMlp: 4 * dModel, nCtx: 1024, dVocab: 50257, layerNormEps: 1e-5, activation: 'gelu_new',
});
const SMALL = gpt2('gpt2', 12, 768, 12);
const MEDIUM = gpt2('gpt2-medium', 24, 1024, 16);
const LARGE = gpt2('gpt2-large', 36, 1280, 20);
const XL = gpt2('gpt2-xl', 48, 1600, 25);

describe('modelMemory', () => {
  it('counts the published parameters of every GPT-2 size', () => {
    expect(modelMemory(SMALL).parameters).toBe(124_439_808);
    expect(modelMemory(MEDIUM).parameters).toBe(354_823_168);
    expect(modelMemory(LARGE).parameters).toBe(774_030_080);
    expect(modelMemory(XL).parameters).toBe(1_557_611_200);
  });
  it('gives float32 bytes and the token embedding as the largest tensor', () => {
    const m = modelMemory(SMALL);
    expect(m.weightBytes).toBe(124_439_808 * 4);
    expect(m.largestTensorBytes).toBe(50257 * 768 * 4);
    expect(m.workingBytes).toBeGreaterThanOrEqual(256 * 2 ** 20);
  });
});

describe('memoryShortfall', () => {
  it('lets GPT-2 Small and Medium through on a machine that reports the usual limits', () => {
    const limits = { deviceMemoryGiB: 8, maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 };
    for (const cfg of [SMALL, MEDIUM]) for (const b of ['webgpu', 'wasm'] as const) expect(memoryShortfall(cfg, b, limits)).toBeNull();
  });
  it('refuses a token embedding larger than one GPU buffer, naming both sizes', () => {
    // WebGPU's default maxStorageBufferBindingSize is 128 MiB; GPT-2 Small's wte is 147 MiB.
    const msg = memoryShortfall(SMALL, 'webgpu', { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 });
    expect(msg).toBe('gpt2 (124M parameters, 475 MB of float32 weights) does not fit this GPU: its largest weight (the token embedding, 147 MB) is more than the 128 MB one GPU buffer may hold here. Try the wasm backend or a smaller model.');
    expect(memoryShortfall(SMALL, 'wasm', { maxStorageBufferBindingSize: 2 ** 27 })).toBeNull();
  });
  it("refuses gpt2-xl on wasm: its weights alone pass wasm32's 4 GiB heap", () => {
    expect(memoryShortfall(XL, 'wasm', {})).toMatch(/^gpt2-xl \(1558M parameters, 5,942 MB of float32 weights\) does not fit the wasm backend: it needs about [\d,]+ MB in onnxruntime's heap, which cannot grow past 4,096 MB\./);
    expect(memoryShortfall(XL, 'webgpu', { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 })).toBeNull();
  });
  it('refuses where the device reports less memory than the model needs, and trusts the capped 8 GB', () => {
    expect(memoryShortfall(MEDIUM, 'webgpu', { deviceMemoryGiB: 2 })).toMatch(/^gpt2-medium .* needs about [\d,]+ MB of memory and this device reports 2 GB\. Try a smaller model\.$/);
    expect(memoryShortfall(SMALL, 'webgpu', { deviceMemoryGiB: 2 })).toBeNull();
    // 8 is the most Chrome reports, so it may mean 64 GB: not a reason to refuse gpt2-xl on WebGPU.
    expect(memoryShortfall(XL, 'webgpu', { deviceMemoryGiB: 8 })).toBeNull();
    expect(memoryShortfall(XL, 'webgpu', { deviceMemoryGiB: 4 })).toMatch(/this device reports 4 GB/);
  });
});

describe('float16 weights (runtime/f16.ts)', () => {
  it('count 2 bytes a parameter on the device and for the largest buffer; the host keeps 4', () => {
    const m = modelMemory(XL, 'float16');
    expect(m.weightBytes).toBe(1_557_611_200 * 2);
    expect(m.hostBytes).toBe(1_557_611_200 * 4);
    expect(m.largestTensorBytes).toBe(50257 * 1600 * 2);
    // The float32 casts alive during a run: the token embedding and one layer's weights.
    const layer = 12 * 1600 * 1600 + 13 * 1600; // c_attn 3d^2, c_proj d^2, c_fc and mlp c_proj 4d^2 each, biases and norms
    expect(m.workingBytes - modelMemory(XL).workingBytes).toBe(4 * (50257 * 1600 + layer));
  });
  it('let a token embedding through that fits one GPU buffer only in float16, and say so in the message', () => {
    const limits = { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 28 }; // 256 MiB; XL's wte is 307 MiB in float32
    expect(memoryShortfall(XL, 'webgpu', limits)).toMatch(/^gpt2-xl \(1558M parameters, 5,942 MB of float32 weights\) does not fit this GPU/);
    expect(memoryShortfall(XL, 'webgpu', limits, 'float16')).toBeNull();
  });
  it('still refuse where the device reports too little memory, counting the host copy at float32', () => {
    // float16: host 5,942 + device 2,971 MB + working: more than 8 GB would need, but 4 GB is reported.
    expect(memoryShortfall(LARGE, 'webgpu', { deviceMemoryGiB: 4 }, 'float16')).toMatch(/^gpt2-large \(774M parameters, 1,476 MB of float16 weights\) needs about [\d,]+ MB of memory and this device reports 4 GB\. Try a smaller model\.$/);
    expect(memoryShortfall(MEDIUM, 'webgpu', { deviceMemoryGiB: 4 }, 'float16')).toBeNull();
  });
});

describe('knownHubConfig', () => {
  it("gives each hub size's published parameter count before its download, and nothing for an unknown repo", () => {
    const count = (repo: string) => modelMemory(knownHubConfig(repo, repo)!).parameters;
    expect(count('openai-community/gpt2')).toBe(124_439_808);
    expect(count('distilbert/distilgpt2')).toBe(81_912_576);
    expect(count('openai-community/gpt2-medium')).toBe(354_823_168);
    expect(count('openai-community/gpt2-large')).toBe(774_030_080);
    expect(count('openai-community/gpt2-xl')).toBe(1_557_611_200);
    expect(knownHubConfig('someone/else', 'x')).toBeUndefined();
  });
});
