// Outputs kept on the device (issue 15 item 3): Runtime.runKeeping leaves the named outputs where they were computed
// and feeds them back; the activation patcher keeps its cached resid_pre and source hooks that way, and its numbers
// are unchanged (patching.test.ts checks them against the float64 reference on this same path). On CPU "the
// device" is host memory; on WebGPU they are GPU buffers (e2e/gpu-io.spec.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { Add, Graph, Mul } from '../graph';
import { ActivationPatcher } from '../patching/activation';
import { experimentFromTokens } from '../patching/experiment';
import { createNodeRuntime } from './node';
import type { Runtime } from './types';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';

const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const r of runtimes) await r.dispose();
});

describe('runKeeping', () => {
  it('keeps the chosen outputs, feeds them back by name, counts what it read back, and refuses a disposed one', async () => {
    const rt = createNodeRuntime({ threads: 1 });
    runtimes.push(rt);
    const g1 = () => {
      const g = new Graph('produce');
      const x = g.input('x', [2, 3]);
      g.output(Mul(x, 2), 'twice');
      g.output(Add(x, 1), 'plus1');
      return g;
    };
    const g2 = () => {
      const g = new Graph('consume');
      g.output(Add(g.input('a', [2, 3]), g.input('b', [2, 3])), 'sum');
      return g;
    };
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const first = await rt.runKeeping!('produce', g1, { x: { dtype: 'float32', shape: [2, 3], data: x } }, {}, (n) => n === 'twice');
    expect(Object.keys(first.fetched)).toEqual(['plus1']);
    expect(Object.keys(first.kept)).toEqual(['twice']);
    expect(first.kept.twice.shape).toEqual([2, 3]);
    // On CPU a kept output is host memory, readable without a copy (the packed hook_z patch runs slice it).
    expect(Array.from(first.kept.twice.host!.data)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(rt.transfers).toEqual({ bytesReadBack: 6 * 4, outputsKept: 1, outputsOnGpu: 0 });
    const b = { dtype: 'float32' as const, shape: [2, 3], data: Float32Array.from([10, 20, 30, 40, 50, 60]) };
    const second = await rt.runKeeping!('consume', g2, { b }, { a: first.kept.twice }, () => false);
    expect(Array.from(second.fetched.sum.data)).toEqual([12, 24, 36, 48, 60, 72]);
    first.kept.twice.dispose();
    expect(first.kept.twice.host).toBeUndefined();
    await expect(rt.runKeeping!('consume', g2, { b }, { a: first.kept.twice }, () => false)).rejects.toThrow('the device tensor fed as "a" was disposed');
  });
});

describe('the activation patcher', () => {
  it("keeps every layer's resid_pre and the source hooks on the device, reads back only the rest, and disposes them when cleared", async () => {
    const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dVocab: 30, name: 'tiny-kept' });
    const rt = createNodeRuntime({ threads: 1 });
    runtimes.push(rt);
    await rt.setWeights(randomWeights(cfg, 4));
    const clean = [randomTokens(cfg, 5, 1)];
    const exp = experimentFromTokens({ clean, corrupted: [clean[0].map((t, p) => (p === 1 ? (t + 3) % 30 : t))], answers: [2], wrongs: [7] });
    // Watch disposals: each kept tensor's dispose is wrapped on the instance (it stays the runtime's own object).
    const disposed: string[] = [];
    const spy: Runtime = Object.assign(Object.create(rt) as Runtime, {
      runKeeping: async (...args: Parameters<NonNullable<Runtime['runKeeping']>>) => {
        const r = await rt.runKeeping!(...args);
        for (const [name, t] of Object.entries(r.kept)) {
          const dispose = t.dispose.bind(t);
          (t as { dispose(): void }).dispose = () => (disposed.push(name), dispose());
        }
        return r;
      },
    });
    const patcher = new ActivationPatcher(spy, cfg);
    const effect = await patcher.patch(exp, 'resid_pre', [1, 1]);
    expect(Number.isFinite(effect) && effect !== 0).toBe(true);
    // 2 layers x (base resid_pre + source resid_pre), none of them read back.
    expect(rt.transfers!.outputsKept).toBe(4);
    expect(disposed).toEqual([]);
    patcher.clear();
    await new Promise((r) => setTimeout(r, 0));
    expect(disposed.sort()).toEqual(['base.blocks.0.hook_resid_pre', 'base.blocks.1.hook_resid_pre', 'source.blocks.0.hook_resid_pre', 'source.blocks.1.hook_resid_pre']);
  });
});
