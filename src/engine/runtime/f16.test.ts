// F16 weights (issue 15 item 3): the float32 -> float16 rounding against an independent float64 decoding, the ONNX
// rewrite, and the engine's numbers with float16 weights against (a) the float64 reference run on the same rounded
// weights (float32 noise only: compute stays float32) and (b) the float32 runtime within the documented tolerance.
import { afterAll, describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { Graph, MatMul, Add, toOnnx } from '../graph';
import { ActivationPatcher } from '../patching/activation';
import { runAttribution } from '../patching/attribution';
import { experimentFromTokens } from '../patching/experiment';
import { float16Bits, float16WeightInputs, toFloat16 } from './f16';
import { createNodeRuntime } from './node';
import { OrtRuntime, type OrtModule } from './ort-runtime';
import type { Runtime } from './types';
import { createWebRuntime, Float16UnsupportedError, weightPrecisionFor } from './web';
import { decodeFloat16, nearestFloat16, roundedToFloat16 } from '../../../test/reference/f16-f64';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { logitDiff } from '../../../test/reference/metrics-f64';
import { referencePatch } from '../../../test/reference/patch-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const { onnx } = onnxProto;
const U = 2 ** -11; // float16's unit roundoff: |round(w) - w| <= U |w|

describe('float16Bits', () => {
  it('maps every float16 value to its own bits (all 63,488 finite patterns, both signs, zero and subnormals)', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = decodeFloat16(h);
      if (!Number.isFinite(v)) continue;
      if (float16Bits(v) !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('rounds midpoints to even and their float32 neighbours to the nearer side, for every pair of neighbours', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const step = (x: number, d: number) => ((f[0] = x), (u[0] += d), f[0]);
    let checked = 0;
    const bad: string[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      for (const sign of [0, 0x8000]) {
        const [a, b] = [decodeFloat16(h | sign), decodeFloat16((h + 1) | sign)]; // |a| < |b|
        const mid = (a + b) / 2;
        if (Math.fround(mid) !== mid) bad.push(`midpoint ${mid} not exact in float32`); // 12 significant bits
        const even = (h % 2 === 0 ? h : h + 1) | sign;
        if (float16Bits(mid) !== even) bad.push(`${mid} -> ${float16Bits(mid)}, expected ${even}`);
        if (decodeFloat16(float16Bits(step(mid, 1))) !== b) bad.push(`just past ${mid}`); // float32 step away from 0
        if (decodeFloat16(float16Bits(step(mid, -1))) !== a) bad.push(`just before ${mid}`);
        checked++;
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(checked).toBe(2 * 0x7bff);
  });

  it('overflows to Infinity past 65504 + half a step, keeps NaN, Infinity and -0, and agrees with the bisection reference', () => {
    expect(float16Bits(65519.99)).toBe(0x7bff);
    expect(float16Bits(65520)).toBe(0x7c00);
    expect(float16Bits(-1e9)).toBe(0xfc00);
    expect(float16Bits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(decodeFloat16(float16Bits(NaN)))).toBe(true);
    expect(float16Bits(-0)).toBe(0x8000);
    expect(float16Bits(2 ** -25)).toBe(0); // a tie between 0 and the smallest subnormal: even
    expect(float16Bits(2 ** -25 * 1.0001)).toBe(1);
    const xs = Float32Array.from({ length: 20000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 14) - 8));
    const got = toFloat16(xs);
    for (let i = 0; i < xs.length; i++) expect(decodeFloat16(got[i])).toBe(nearestFloat16(xs[i]));
  });
});

describe('float16WeightInputs', () => {
  it('declares the named inputs float16 and casts each to float32 right before its first reader', () => {
    const g = new Graph('t');
    const x = g.input('x', [2, 3]);
    const w = g.input('w', [3, 2]);
    const b = g.input('b', [2]);
    g.output(Add(MatMul(x, w), b), 'y');
    const m = onnx.ModelProto.decode(float16WeightInputs(toOnnx(g), ['w', 'b', 'absent']));
    const type = (n: string) => m.graph!.input!.find((i) => i.name === n)!.type!.tensorType!.elemType;
    expect([type('x'), type('w'), type('b')]).toEqual([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.FLOAT16]);
    const nodes = m.graph!.node!.map((n) => `${n.opType}(${n.input!.join(',')})`);
    const mm = m.graph!.node![1].output![0];
    expect(nodes.slice(0, 4)).toEqual(['Cast(w)', 'MatMul(x,w::f32)', 'Cast(b)', `Add(${mm},b::f32)`]);
    expect(nodes.filter((n) => n.startsWith('Cast'))).toHaveLength(2);
  });
});

describe('weightPrecisionFor', () => {
  it('auto: by size on WebGPU with shader-f16 only; asked: refused on WebGPU without it, allowed on wasm', () => {
    expect(weightPrecisionFor('auto', 'webgpu', true)).toBe('auto'); // float16 past 2 GiB of float32 weights
    expect(weightPrecisionFor(undefined, 'webgpu', false)).toBe('float32');
    expect(weightPrecisionFor('auto', 'wasm', true)).toBe('float32');
    expect(weightPrecisionFor('float32', 'webgpu', true)).toBe('float32');
    expect(weightPrecisionFor('float16', 'wasm', false)).toBe('float16');
    expect(() => weightPrecisionFor('float16', 'webgpu', false)).toThrow(Float16UnsupportedError);
    expect(() => weightPrecisionFor('float16', 'webgpu', false)).toThrow("need the GPU feature 'shader-f16'");
  });
});

describe('the engine with float16 weights', () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 40, name: 'tiny-f16' });
  const weights = randomWeights(cfg, 23);
  const rounded = roundedToFloat16(weights);
  const P = 7;
  const clean = [randomTokens(cfg, P, 5)];
  const corrupted = clean.map((c) => c.map((t, p) => (p === 2 ? (t + 11) % cfg.dVocab : t)));
  const exp = experimentFromTokens({ clean, corrupted, answers: [3], wrongs: [9] });
  const metric = (l: Float64Array, n: number, v: number) => logitDiff(l, n, v, 3, 9);
  const cells = [[0, 2], [1, 2], [1, 6], [0, 0]];
  const refPatches = (w: typeof weights) => {
    const base = metric(referenceForward(cfg, w, corrupted[0]).logits, P, cfg.dVocab);
    return cells.map(([l, p]) => referencePatch(cfg, w, {
      target: corrupted[0], source: clean[0], hook: `blocks.${l}.hook_resid_pre`, metric, mask: (i) => Math.floor(i / cfg.dModel) === p,
    }) - base);
  };
  const runtimes: Runtime[] = [];
  afterAll(async () => {
    for (const r of runtimes) await r.dispose();
  });
  const measure = async (rt: Runtime) => {
    runtimes.push(rt);
    await rt.setWeights(weights);
    const attr = await runAttribution(rt, cfg, exp);
    const patches = await new ActivationPatcher(rt, cfg).patchCells(exp, 'resid_pre', cells);
    return { metric: attr.metric.clean, attr: attr.values.resid_pre!.data, patches };
  };

  it('equals the float64 reference on the rounded weights (node and wasm), and float32 within 16 x 2^-11 of the scale', async () => {
    const ortWeb = (await import('onnxruntime-web')) as unknown as OrtModule;
    const f16node = createNodeRuntime({ threads: 1, weightPrecision: 'float16' });
    const f16wasm = await createWebRuntime(ortWeb, { backend: 'wasm', weightPrecision: 'float16' });
    const f32 = await measure(createNodeRuntime({ threads: 1 }));
    const refRounded = refPatches(rounded);
    const refExact = refPatches(weights);
    const cleanRounded = metric(referenceForward(cfg, rounded, clean[0]).logits, P, cfg.dVocab);
    for (const rt of [f16node, f16wasm]) {
      const f16 = await measure(rt);
      expect(rt.weightPrecision).toBe('float16');
      // Compute is float32: against the reference on the same (rounded) weights, only float32 noise remains.
      expectClose(`${rt.backend} f16 patches vs f64(rounded)`, f16.patches, refRounded, 1e-4, 1e-5);
      expect(f16.metric).toBeCloseTo(cleanRounded, 4);
      // Rounding the weights moved the results: the f16 runtime is not secretly running float32 weights.
      const moved = Math.max(...f16.patches.map((v, i) => Math.abs(v - f32.patches[i])));
      expect(moved).toBeGreaterThan(1e-6);
      // The documented tolerance against float32 (docs/ARCHITECTURE.md, "F16 weights"): 16 U of the largest value.
      const scale = Math.max(...refExact.map(Math.abs), Math.abs(f32.metric));
      for (const [name, a, b] of [['patches', f16.patches, f32.patches], ['attribution', f16.attr, f32.attr]] as const) {
        const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
        if (process.env.F16_REPORT) console.log(`${rt.backend} ${name}: worst |f16 - f32| ${worst.toExponential(2)} = ${(worst / (U * scale)).toFixed(2)} U x scale ${scale.toFixed(3)}`);
        expect(worst, `${rt.backend} ${name}: ${worst} vs ${16 * U * scale}`).toBeLessThan(16 * U * scale);
      }
      expect(Math.abs(f16.metric - f32.metric)).toBeLessThan(16 * U * scale);
    }
  });

  it('refuses weights beyond float16 range with the tensor named', async () => {
    const rt = createNodeRuntime({ threads: 1, weightPrecision: 'float16' });
    runtimes.push(rt);
    const bad = new Map(weights);
    const ln = weights.get('ln_f.weight')!;
    bad.set('ln_f.weight', { shape: ln.shape, data: Float32Array.from(ln.data, (v, i) => (i === 3 ? 7e4 : v)) });
    await expect(rt.setWeights(bad)).rejects.toThrow('ln_f.weight has 1 values beyond float16');
  });

  it("'auto' holds a model as float16 only past the size limit, and a change of precision drops the sessions", async () => {
    const ortNode = (await import('onnxruntime-node')) as unknown as OrtModule;
    const params = [...weights.values()].reduce((n, w) => n + w.data.length, 0);
    const make = (limit: number) => new OrtRuntime(ortNode, {
      backend: 'node-cpu', sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1 }, weightPrecision: 'auto', autoFloat16AboveBytes: limit,
    });
    const big = make(params * 4 - 1);
    const small = make(params * 4);
    runtimes.push(big, small);
    expect([big.precisionFor(params), small.precisionFor(params)]).toEqual(['float16', 'float32']);
    await big.setWeights(weights);
    await small.setWeights(weights);
    expect([big.weightPrecision, small.weightPrecision]).toEqual(['float16', 'float32']);
    const m16 = (await runAttribution(big, cfg, exp)).metric.clean;
    const m32 = (await runAttribution(small, cfg, exp)).metric.clean;
    expect(m16).toBeCloseTo(metric(referenceForward(cfg, rounded, clean[0]).logits, P, cfg.dVocab), 4);
    expect(m32).toBeCloseTo(metric(referenceForward(cfg, weights, clean[0]).logits, P, cfg.dVocab), 4);
    expect(m16).not.toBe(m32);
    // A smaller model on the same runtime goes back to float32: the sessions are dropped (same name, so the same
    // keys: a kept 2-layer float16 session would ask for h.1's weights and fail), its numbers exact.
    const cfg1 = { ...cfg, nLayers: 1 };
    const w1 = new Map([...weights].filter(([n]) => !n.startsWith('h.1.')));
    const created = big.sessionsCreated;
    await big.setWeights(w1);
    expect(big.weightPrecision).toBe('float32');
    expect((await runAttribution(big, cfg1, exp)).metric.clean).toBeCloseTo(metric(referenceForward(cfg1, w1, clean[0]).logits, P, cfg.dVocab), 4);
    expect(big.sessionsCreated).toBeGreaterThan(created);
  });
});
