// Composites built from primitives: their shapes, and their values in onnxruntime-node against the textbook
// formulas written here in float64 (softmax and logSumExp at logits of +-1000, where exp without max-subtraction
// overflows float32). Their gradients: autodiff.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { geluNew, layerNorm, logSumExp, meanLast, softmax, stopGradient } from './composite';
import { Graph, type Tensor } from './graph';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
let graphs = 0;

/** Runs `build` on one float32 input `x` of `shape` holding `values`; returns the builder's and onnxruntime's results. */
async function run(shape: number[], values: number[], build: (x: Tensor, g: Graph) => Tensor) {
  const g = new Graph(`composite_${graphs++}`);
  const t = build(g.input('x', shape), g);
  g.output(t, 'out');
  const { out } = await rt.run(g.name, () => g, { x: { dtype: 'float32', shape, data: Float32Array.from(values) } });
  expect(out.shape, 'onnxruntime-node shape').toEqual([...t.shape]);
  return { shape: [...t.shape], data: Array.from(out.data) };
}

/** Row-wise (last axis) map in float64 of values laid out as rows of `n`. */
function rows(values: number[], n: number, f: (row: number[]) => number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i += n) out.push(...f(values.slice(i, i + n).map(Math.fround)));
  return out;
}

function expectNear(actual: number[], expected: number[], rel = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]), `entry ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected[i]))));
}

const X = [0.3, -1.2, 2.5, 0.0, -0.7, 1.1, 1.9, -2.2, 0.4, 0.8, -0.1, 3.0];
const HUGE = [1000, 999, -1000, 0, 1000.5, -1000, -999, -1001, -1000, -998];

describe('composites: shapes and values', () => {
  it('softmax over the last axis, finite at logits of +-1000 (max-subtraction)', async () => {
    const ref = (r: number[]) => {
      const m = Math.max(...r);
      const e = r.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const small = await run([2, 2, 3], X, softmax);
    expect(small.shape).toEqual([2, 2, 3]);
    expectNear(small.data, rows(X, 3, ref));
    const huge = await run([2, 5], HUGE, softmax);
    expect(huge.data.every(Number.isFinite)).toBe(true);
    expectNear(huge.data, rows(HUGE, 5, ref));
  });

  it('logSumExp over the last axis, kept as size 1, finite at logits of +-1000', async () => {
    const ref = (r: number[]) => {
      const m = Math.max(...r);
      return [m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0))];
    };
    const small = await run([3, 4], X, logSumExp);
    expect(small.shape).toEqual([3, 1]);
    expectNear(small.data, rows(X, 4, ref));
    expectNear((await run([2, 5], HUGE, logSumExp)).data, rows(HUGE, 5, ref));
  });

  it('meanLast keeps the last axis as size 1', async () => {
    const r = await run([2, 6], X, meanLast);
    expect(r.shape).toEqual([2, 1]);
    expectNear(r.data, rows(X, 6, (row) => [row.reduce((a, b) => a + b, 0) / 6]));
  });

  it("geluNew is GPT-2's tanh approximation", async () => {
    const r = await run([3, 4], X, geluNew);
    expect(r.shape).toEqual([3, 4]);
    expectNear(
      r.data,
      X.map(Math.fround).map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))),
    );
  });

  it('layerNorm: scale [.., 1] = sqrt(var + eps), normalized = (x - mean) / scale * w + b', async () => {
    const w = [1.5, -0.5, 2, 1];
    const b = [0.1, 0.2, -0.3, 0];
    const eps = 1e-5;
    const stats = (r: number[]) => {
      const mean = r.reduce((a, v) => a + v, 0) / r.length;
      const scale = Math.sqrt(r.reduce((a, v) => a + (v - mean) ** 2, 0) / r.length + eps);
      return { mean, scale };
    };
    const ln = (x: Tensor, g: Graph) => layerNorm(x, g.constant(w, [4]), g.constant(b, [4]), eps);
    const scale = await run([3, 4], X, (x, g) => ln(x, g).scale);
    expect(scale.shape).toEqual([3, 1]);
    expectNear(scale.data, rows(X, 4, (r) => [stats(r).scale]));
    const normalized = await run([3, 4], X, (x, g) => ln(x, g).normalized);
    expect(normalized.shape).toEqual([3, 4]);
    expectNear(
      normalized.data,
      rows(X, 4, (r) => {
        const { mean, scale } = stats(r);
        return r.map((v, i) => ((v - mean) / scale) * w[i] + b[i]);
      }),
    );
    const g = new Graph();
    const parts = ln(g.input('x', [3, 4]), g);
    expect(parts.out).toBe(parts.normalized);
  });

  it('layerNorm hooks see the scale and normalized tensors, and what they return is used downstream', async () => {
    // Replacing the scale by 2 everywhere: normalized = (x - mean) / 2 (w = 1, b = 0).
    const r = await run([3, 4], X, (x, g) => {
      const seen: number[][] = [];
      const parts = layerNorm(x, g.constant([1, 1, 1, 1], [4]), g.constant([0, 0, 0, 0], [4]), 1e-5, (s) => {
        seen.push([...s.shape]);
        return g.constant([2, 2, 2], [3, 1]);
      });
      expect(seen).toEqual([[3, 1]]);
      return parts.out;
    });
    expectNear(r.data, rows(X, 4, (row) => row.map((v) => (v - row.reduce((a, u) => a + u, 0) / 4) / 2)));
    const hooked = await run([3, 4], X, (x, g) => layerNorm(x, g.constant([1, 1, 1, 1], [4]), g.constant([0, 0, 0, 0], [4]), 1e-5, undefined, () => g.scalar(7)).out);
    expect(hooked.data).toEqual([7]);
  });

  it('layerNorm with weights that do not fit the last axis names the op and shapes', () => {
    const g = new Graph();
    expect(() => layerNorm(g.input('x', [3, 4]), g.input('w', [5]), g.input('b', [4]), 1e-5)).toThrow('Mul: shapes [3,4] and [5] do not broadcast');
  });

  it('stopGradient is an Identity of the same shape, registered in graph.stopGrad', async () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const s = stopGradient(x);
    expect(s.producer!.op).toBe('Identity');
    expect(s.shape).toEqual([2, 3]);
    expect(g.stopGrad.has(s)).toBe(true);
    expect(g.stopGrad.has(x)).toBe(false);
    expectNear((await run([2, 6], X, stopGradient)).data, X.map(Math.fround));
  });
});
