// ONNX serialisation round trip: toOnnx's bytes decoded with onnx-proto (nodes, inputs, outputs, initializers,
// opset, dtypes, attributes; dead nodes, unread inputs and unread constants pruned), and the same graph run by
// onnxruntime-node against values computed here by hand.
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { grad } from './autodiff';
import { Graph } from './graph';
import { liveNodes, OPSET, toOnnx } from './onnx';
import { Add, Exp, Mul, Where } from './ops/elementwise';
import { MatMul } from './ops/matmul';
import { Concat, Gather, ReduceSum, Transpose } from './ops/shape-reduce';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

/** The decoded model as plain objects, int64 fields as numbers. */
function decode(bytes: Uint8Array) {
  const m = onnx.ModelProto.decode(bytes);
  return onnx.ModelProto.toObject(m, { longs: Number, defaults: false }) as {
    irVersion: number;
    producerName: string;
    opsetImport: { domain?: string; version: number }[];
    graph: {
      name: string;
      node: { opType: string; input?: string[]; output: string[]; attribute?: { name: string; type: number; i?: number; ints?: number[]; f?: number; floats?: number[]; s?: Uint8Array }[] }[];
      input: { name: string; type: { tensorType: { elemType: number; shape: { dim?: { dimValue: number }[] } } } }[];
      output: { name: string; type: { tensorType: { elemType: number; shape: { dim?: { dimValue: number }[] } } } }[];
      initializer?: { name: string; dims?: number[]; dataType: number; floatData?: number[]; int64Data?: number[]; int32Data?: number[] }[];
    };
  };
}
const dims = (v: { type: { tensorType: { shape: { dim?: { dimValue: number }[] } } } }) => (v.type.tensorType.shape.dim ?? []).map((d) => d.dimValue ?? 0);

// x [2, 3] -> out [2, 3] = Concat(x @ W, sum(Where(mask, x, 0), -1)) + Transpose(Transpose(table[ids])), and
// d sum(out) / dx. Around it: a dead node on its own constant, an input nothing reads, and the dead half of the
// MatMul rule (the gradient for the constant W).
const xv = [0.5, -1, 2, 1.5, 0.25, -0.75];
const Wv = [1, 2, -1, 0.5, 3, -2];
const tablev = [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32];
const maskv = [1, 0, 1, 0, 1, 1];
const idsv = [3, 1];

function buildGraph() {
  const g = new Graph('roundtrip');
  const x = g.input('x', [2, 3]);
  g.input('unused', [4]);
  const ids = g.input('ids', [2], 'int64');
  const W = g.constant(Wv, [3, 2]);
  const table = g.constant(tablev, [4, 3]);
  const mask = g.constant(maskv, [2, 3], 'bool');
  const dead = Exp(Mul(x, g.constant([7, 7, 7], [3])));
  const h = MatMul(x, W); // [2, 2]
  const s = ReduceSum(Where(mask, x, 0), [-1], true); // [2, 1]
  const e = Transpose(Transpose(Gather(table, ids), [1, 0]), [1, 0]); // [2, 3]
  const out = g.output(Add(Concat([h, s], -1), e), 'out');
  const [gx] = grad(ReduceSum(out, [0, 1]), [x]);
  g.output(gx!, 'x_grad');
  return { g, x, W, table, mask, dead };
}

describe('toOnnx', () => {
  it('writes the opset, IR version and graph name', () => {
    const m = decode(toOnnx(buildGraph().g));
    expect(OPSET).toBe(17);
    expect(m.irVersion).toBe(8);
    expect(m.producerName).toBe('patchwork');
    expect(m.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(m.graph.name).toBe('roundtrip');
  });

  it('writes the live nodes in order, and only them', () => {
    const { g, dead } = buildGraph();
    const m = decode(toOnnx(g));
    const live = liveNodes(g);
    expect(live.length).toBeLessThan(g.nodes.length);
    expect(m.graph.node.map((n) => n.opType)).toEqual(live.map((n) => n.op));
    m.graph.node.forEach((n, i) => {
      expect(n.input ?? []).toEqual(live[i].inputs.map((t) => t.name));
      expect(n.output).toEqual([live[i].output.name]);
    });
    const written = new Set(m.graph.node.flatMap((n) => n.output));
    expect(written.has(dead.name)).toBe(false);
    expect(m.graph.node.some((n) => n.opType === 'Exp')).toBe(false);

    // Independently of liveNodes: every written node feeds an output, and reads only values defined before it.
    const needed = new Set(m.graph.output.map((o) => o.name));
    for (const n of [...m.graph.node].reverse()) {
      expect(needed.has(n.output[0]), `${n.opType} ${n.output[0]} is read by something`).toBe(true);
      for (const i of n.input ?? []) needed.add(i);
    }
    const defined = new Set([...m.graph.input.map((i) => i.name), ...(m.graph.initializer ?? []).map((i) => i.name)]);
    for (const n of m.graph.node) {
      for (const i of n.input ?? []) expect(defined.has(i), `${n.opType} reads ${i} after it is defined`).toBe(true);
      defined.add(n.output[0]);
    }
  });

  it('writes only the inputs something reads, with dtypes and shapes', () => {
    const m = decode(toOnnx(buildGraph().g));
    expect(m.graph.input.map((i) => [i.name, i.type.tensorType.elemType, dims(i)])).toEqual([
      ['x', T.FLOAT, [2, 3]],
      ['ids', T.INT64, [2]],
    ]);
  });

  it('writes the outputs with dtypes and shapes', () => {
    const m = decode(toOnnx(buildGraph().g));
    expect(m.graph.output.map((o) => [o.name, o.type.tensorType.elemType, dims(o)])).toEqual([
      ['out', T.FLOAT, [2, 3]],
      ['x_grad', T.FLOAT, [2, 3]],
    ]);
  });

  it('writes the constants that live nodes read as initializers: float32, int64 and bool data', () => {
    const { g, W, table, mask } = buildGraph();
    const m = decode(toOnnx(g));
    const inits = new Map((m.graph.initializer ?? []).map((i) => [i.name, i]));
    expect(inits.get(W.name)).toEqual({ name: W.name, dims: [3, 2], dataType: T.FLOAT, floatData: Wv });
    expect(inits.get(table.name)).toEqual({ name: table.name, dims: [4, 3], dataType: T.FLOAT, floatData: tablev });
    expect(inits.get(mask.name)).toEqual({ name: mask.name, dims: [2, 3], dataType: T.BOOL, int32Data: maskv });
    const reduceAxes = m.graph.node.find((n) => n.opType === 'ReduceSum')!.input![1];
    expect(inits.get(reduceAxes)).toMatchObject({ dims: [1], dataType: T.INT64, int64Data: [1] });
    // Read by live nodes only: the dead node's [7, 7, 7] is not written.
    const read = new Set(m.graph.node.flatMap((n) => n.input ?? []));
    for (const name of inits.keys()) expect(read.has(name), `initializer ${name} is read`).toBe(true);
    expect([...inits.values()].some((i) => i.floatData?.[0] === 7)).toBe(false);
    expect(g.constants.length).toBeGreaterThan(inits.size);
  });

  it('writes attributes by type: INT, INTS, STRING, FLOAT, FLOATS', () => {
    const g = new Graph('attrs');
    const x = g.input('x', [2, 3]);
    const ids = g.input('ids', [2], 'int64');
    const [gt] = grad(ReduceSum(Gather(x, ids), [0, 1]), [x]); // Gather's rule: ScatterND reduction 'add'
    g.output(gt!, 'gather_grad');
    g.output(ReduceSum(Transpose(x, [1, 0]), [0], true), 'sum');
    g.output(g.node('LeakyRelu', [x], [2, 3], 'float32', { alpha: { float: 0.25 } }), 'leaky');
    g.output(g.node('Constant', [], [3], 'float32', { value_floats: { floats: [1.5, -2, 3] } }), 'floats');
    const attrs = decode(toOnnx(g)).graph.node.flatMap((n) =>
      (n.attribute ?? []).map(({ s, ...a }) => ({ op: n.opType, ...a, ...(s ? { s: new TextDecoder().decode(s) } : {}) })),
    );
    expect(attrs).toEqual(
      expect.arrayContaining([
        { op: 'ScatterND', name: 'reduction', type: A.STRING, s: 'add' },
        { op: 'Transpose', name: 'perm', type: A.INTS, ints: [1, 0] },
        { op: 'ReduceSum', name: 'keepdims', type: A.INT, i: 1 },
        { op: 'LeakyRelu', name: 'alpha', type: A.FLOAT, f: 0.25 },
        { op: 'Constant', name: 'value_floats', type: A.FLOATS, floats: [1.5, -2, 3] },
      ]),
    );
  });
});

describe('onnxruntime-node runs the serialised model', () => {
  it('with the values computed by hand (unused input not fed, dead nodes not run)', async () => {
    const { g } = buildGraph();
    const res = await rt.run('roundtrip', () => g, {
      x: { dtype: 'float32', shape: [2, 3], data: Float32Array.from(xv) },
      ids: { dtype: 'int64', shape: [2], data: BigInt64Array.from(idsv.map(BigInt)) },
    });
    const out: number[] = [];
    const xg: number[] = [];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) out.push(xv[i * 3] * Wv[j] + xv[i * 3 + 1] * Wv[2 + j] + xv[i * 3 + 2] * Wv[4 + j] + tablev[idsv[i] * 3 + j]);
      out.push([0, 1, 2].reduce((a, k) => a + (maskv[i * 3 + k] ? xv[i * 3 + k] : 0), 0) + tablev[idsv[i] * 3 + 2]);
      for (let k = 0; k < 3; k++) xg.push(Wv[k * 2] + Wv[k * 2 + 1] + maskv[i * 3 + k]);
    }
    expect(res.out.shape).toEqual([2, 3]);
    expect(Array.from(res.out.data)).toEqual(out.map(Math.fround));
    expect(res.x_grad.shape).toEqual([2, 3]);
    expect(Array.from(res.x_grad.data)).toEqual(xg);
  });

  it('with FLOAT and FLOATS attributes and the ScatterND reduction', async () => {
    const g = new Graph('attrs_run');
    const x = g.input('x', [2, 3]);
    const ids = g.input('ids', [3], 'int64');
    const [gt] = grad(ReduceSum(Gather(x, ids), [0, 1]), [x]);
    g.output(gt!, 'gather_grad');
    g.output(g.node('LeakyRelu', [x], [2, 3], 'float32', { alpha: { float: 0.25 } }), 'leaky');
    g.output(g.node('Constant', [], [3], 'float32', { value_floats: { floats: [1.5, -2, 3] } }), 'floats');
    const res = await rt.run(g.name, () => g, {
      x: { dtype: 'float32', shape: [2, 3], data: Float32Array.from(xv) },
      ids: { dtype: 'int64', shape: [3], data: BigInt64Array.from([1n, 1n, 0n]) },
    });
    expect(Array.from(res.gather_grad.data)).toEqual([1, 1, 1, 2, 2, 2]); // row 1 gathered twice: accumulated
    expect(Array.from(res.leaky.data)).toEqual(xv.map((v) => (v < 0 ? 0.25 * v : v)));
    expect(Array.from(res.floats.data)).toEqual([1.5, -2, 3]);
  });
});
