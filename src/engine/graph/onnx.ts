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
  const open = t.graph.symbolic?.dims.get(t);
  const dim = t.shape.map((d, a) => (open?.[a] !== undefined ? { dimParam: open[a] } : { dimValue: d }));
  return { name: t.name, type: { tensorType: { elemType: ELEM[t.dtype], shape: { dim } } } };
}

type OnnxNode = { opType: string; input: string[]; output: string[]; attribute: ReturnType<typeof attribute>[] };

/**
 * Symbolic sizes (symbolic.ts): each size as an int64 scalar read from an input's shape (Shape -> Sub -> Reshape
 * to []), and each size-dependent constant computed from them: offset + sum_i coef_i * size_i.
 */
function symbolicParts(graph: Graph, used: Set<Tensor>): { nodes: OnnxNode[]; initializers: ReturnType<typeof initializer>[] } {
  const sym = graph.symbolic;
  const nodes: OnnxNode[] = [];
  const initializers: ReturnType<typeof initializer>[] = [];
  if (!sym) return { nodes, initializers };
  const ints = (name: string, values: number[], dims: number[]) => {
    initializers.push({ name, dims, dataType: ELEM.int64, int64Data: values });
    return name;
  };
  const scalarShape = ints('sym.scalar_shape', [], [0]);
  const sizeName = sym.names.map((n, i) => {
    const { input, axis, offset } = sym.sources[i];
    const p = `sym.${n}`;
    nodes.push({ opType: 'Shape', input: [input.name], output: [`${p}.dim`], attribute: [attribute('start', axis), attribute('end', axis + 1)] });
    nodes.push({ opType: 'Sub', input: [`${p}.dim`, ints(`${p}.offset`, [offset], [1])], output: [`${p}.vec`], attribute: [] });
    nodes.push({ opType: 'Reshape', input: [`${p}.vec`, scalarShape], output: [p], attribute: [] });
    return p;
  });
  for (const c of graph.constants) {
    const aff = c.constant!.affine;
    if (!aff || !used.has(c)) continue;
    let acc = ints(`${c.name}.offset`, aff.offset, c.constant!.shape);
    aff.coefs.forEach((coef, i) => {
      if (coef.every((k) => k === 0)) return;
      const term = `${c.name}.term${i}`;
      nodes.push({ opType: 'Mul', input: [ints(`${c.name}.coef${i}`, coef, c.constant!.shape), sizeName[i]], output: [term], attribute: [] });
      const sum = `${c.name}.sum${i}`;
      nodes.push({ opType: 'Add', input: [acc, term], output: [sum], attribute: [] });
      acc = sum;
    });
    nodes.push({ opType: 'Identity', input: [acc], output: [c.name], attribute: [] });
  }
  return { nodes, initializers };
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
  const sym = symbolicParts(graph, used);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'patchwork',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      node: [...sym.nodes, ...nodes.map((n) => ({
        opType: n.op,
        input: n.inputs.map((i) => i.name),
        output: [n.output.name],
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      }))],
      // Only inputs that something reads: the runtime feeds exactly session.inputNames.
      // (A size's source input is read by its Shape node even where nothing else reads it.)
      input: graph.inputs.filter((i) => used.has(i) || graph.symbolic?.sources.some((s) => s.input === i)).map(valueInfo),
      initializer: [...graph.constants.filter((c) => used.has(c) && !c.constant!.affine).map(initializer), ...sym.initializers],
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
