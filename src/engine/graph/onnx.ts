// Serialises a Graph to ONNX (IR 8, opset 17) with the onnx-proto protobuf bindings.
// Only nodes that some graph output depends on are written (rules create gradients that may go unused).
import onnxProto from 'onnx-proto';
import type { AttrValue, DType, Graph, Node, Tensor } from './graph';

const { onnx } = onnxProto;
export const OPSET = 17;

const ELEM: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

function valueInfo(t: Tensor) {
  return { name: t.name, type: { tensorType: { elemType: ELEM[t.dtype], shape: { dim: t.shape.map((d) => ({ dimValue: d })) } } } };
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

function initializer(t: Tensor) {
  const c = t.constant!;
  const base = { name: t.name, dims: c.shape, dataType: ELEM[c.dtype] };
  if (c.dtype === 'float32') return { ...base, floatData: Array.from(c.values as Float32Array) };
  if (c.dtype === 'int64') return { ...base, int64Data: Array.from(c.values as BigInt64Array, (x) => Number(x)) };
  return { ...base, int32Data: Array.from(c.values as number[]) };
}

/** The nodes that the outputs depend on, in order. */
export function liveNodes(graph: Graph): Node[] {
  const live = new Set<Tensor>(graph.outputs);
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!live.has(n.output)) continue;
    keep.push(n);
    for (const inp of n.inputs) live.add(inp);
  }
  return keep.reverse();
}

export function toOnnx(graph: Graph): Uint8Array {
  const nodes = liveNodes(graph);
  const used = new Set<Tensor>(graph.outputs);
  for (const n of nodes) for (const i of n.inputs) used.add(i);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'patchwork',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      node: nodes.map((n) => ({
        opType: n.op,
        input: n.inputs.map((i) => i.name),
        output: [n.output.name],
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      })),
      // Only inputs that something reads: the runtime feeds exactly session.inputNames.
      input: graph.inputs.filter((i) => used.has(i)).map(valueInfo),
      initializer: graph.constants.filter((c) => used.has(c)).map(initializer),
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
