// Symbolic sizes by tracing: a graph whose size-dependent constants are affine gets dim_param inputs and runs at
// other sizes on one session, equal to graphs built at those sizes; one with a host-built [n, n] constant is refused.
import onnxProto from 'onnx-proto';
import { afterAll, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { Graph } from './graph';
import { toOnnx } from './onnx';
import { Add, Less, Where } from './ops/elementwise';
import { Arange, ReduceSum, Reshape, Slice } from './ops/shape-reduce';
import { traceSymbolic } from './symbolic';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

// x [2, n, 3] -> causal prefix sums over n with a run-time mask, reshaped through [2 * n, 3] and sliced to n - 1 rows.
function build([n]: number[]): Graph {
  const g = new Graph('sym');
  const x = g.input('x', [2, n, 3]);
  const mask = Less(Reshape(Arange(g, 0, n), [1, n]), Reshape(Add(Arange(g, 0, n), g.constant([1], [], 'int64')), [n, 1])); // [n, n]: key <= query
  const xs = Reshape(x, [2, 1, n, 3]);
  const m = Reshape(mask, [1, n, n, 1]);
  const prefix = ReduceSum(Where(m, xs, 0), [2]); // [2, n, 3]
  const flat = Reshape(prefix, [2 * n, 3]);
  g.output(Slice(Reshape(flat, [2, n, 3]), 1, 1, n), 'y');
  return g;
}

function expected(x: Float32Array, n: number): number[] {
  const y: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let q = 1; q < n; q++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let k = 0; k <= q; k++) s += x[(b * n + k) * 3 + c];
        y.push(s);
      }
  return y;
}

it('one session serves every size, with dim_param inputs, equal to a hand computation', async () => {
  const traced = traceSymbolic(build, [{ name: 'SYM_POS', value: 4 }]);
  expect(traced.symbolic).toBe(true);
  const model = onnxProto.onnx.ModelProto.decode(toOnnx(traced.graph));
  expect(model.graph!.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual([2, 'SYM_POS', 3]);
  const before = rt.sessionsCreated;
  for (const n of [4, 7, 2]) {
    const x = Float32Array.from({ length: 2 * n * 3 }, (_, i) => Math.sin(i + n));
    const out = await rt.run('symbolic-test', () => traced.graph, { x: { dtype: 'float32', shape: [2, n, 3], data: x } });
    expect(out.y.shape).toEqual([2, n - 1, 3]);
    const want = expected(x, n);
    out.y.data.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  }
  expect(rt.sessionsCreated - before).toBe(1);
});

it('a host-built [n, n] constant is refused with the reason', () => {
  const t = traceSymbolic(([n]) => {
    const g = new Graph('host-mask');
    const x = g.input('x', [n, n]);
    g.output(Where(g.constant(Array.from({ length: n * n }, (_, i) => +(i % (n + 1) === 0)), [n, n], 'bool'), x, 0), 'y');
    return g;
  }, [{ name: 'SYM_POS', value: 5 }]);
  expect(t.symbolic).toBe(false);
  if (!t.symbolic) expect(t.reason).toMatch(/constant .* changes its shape/);
  expect(t.graph.symbolic).toBeUndefined();
});
