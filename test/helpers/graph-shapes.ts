// Shape-inference checks for the graph ops' tests: the builder infers a shape and dtype, and onnxruntime-node,
// running the same graph, returns the same (int64 inputs are fed zeros, valid indices for any axis).
import { afterAll, expect } from 'vitest';
import { Graph, type DType, type Tensor } from '../../src/engine/graph';
import { createNodeRuntime } from '../../src/engine/runtime/node';
import type { Feed } from '../../src/engine/runtime/types';

const ORT_DTYPE: Record<string, DType> = { Float32Array: 'float32', BigInt64Array: 'int64', Uint8Array: 'bool' };

function feedFor(t: Tensor): Feed {
  if (t.dtype === 'int64') return { dtype: 'int64', shape: t.shape, data: new BigInt64Array(t.size) };
  if (t.dtype === 'bool') return { dtype: 'bool', shape: t.shape, data: new Uint8Array(t.size) };
  return { dtype: 'float32', shape: t.shape, data: Float32Array.from({ length: t.size }, (_, i) => 1 + (i % 7) / 7) };
}

/** An `expectInferred(build, shape, dtype)` for one test file, on its own runtime (disposed after the file). */
export function shapeChecker(prefix: string) {
  const rt = createNodeRuntime({ threads: 1 });
  afterAll(() => rt.dispose());
  let graphs = 0;
  return async function expectInferred(build: (g: Graph) => Tensor, shape: number[], dtype: DType = 'float32'): Promise<void> {
    const g = new Graph(`${prefix}_${graphs++}`);
    const t = build(g);
    expect({ shape: t.shape, dtype: t.dtype }).toEqual({ shape, dtype });
    g.output(t, 'out');
    const { out } = await rt.run(g.name, () => g, Object.fromEntries(g.inputs.map((i) => [i.name, feedFor(i)])));
    expect({ shape: out.shape, dtype: ORT_DTYPE[out.data.constructor.name] }, 'onnxruntime-node').toEqual({ shape, dtype });
  };
}
