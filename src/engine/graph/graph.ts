// The graph IR: a list of ONNX nodes in construction (= topological) order over statically shaped tensors.
// Ops live in ./ops (one file per family, each op beside its gradient rule); ./onnx.ts serialises to ONNX.
import { numel } from './shape';

export type DType = 'float32' | 'int64' | 'bool';

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

export interface Node {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  attrs: Record<string, AttrValue>;
}

/** Constant data, serialised as an ONNX initializer. */
export interface ConstantData {
  dtype: DType;
  shape: number[];
  values: number[] | Float32Array | BigInt64Array;
  /**
   * int64 values that follow the graph's symbolic sizes (symbolic.ts): value[j] = offset[j] + sum_i coefs[i][j] *
   * symbol_i, computed at run time from the inputs' shapes instead of stored.
   */
  affine?: { offset: number[]; coefs: number[][] };
}

/**
 * Sizes that the ONNX graph leaves open (dim_param), so that one onnxruntime session serves them all: each symbol's
 * value is read at run time from an input's dimension (value = dim - offset); inputs and outputs name their open
 * dimensions (undefined: a fixed one). Set by symbolic.ts on a graph built with concrete sizes.
 */
export interface SymbolicSizes {
  names: string[];
  sources: { input: Tensor; axis: number; offset: number }[];
  dims: Map<Tensor, (string | undefined)[]>;
}

export class Tensor {
  /** Set when the tensor is produced by a node; undefined for graph inputs and constants. */
  producer?: Node;
  /** Set when the tensor is a constant (initializer). */
  constant?: ConstantData;
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly constants: Tensor[] = [];
  /** Tensors whose gradient must not flow back into their producer (see stopGradient). */
  readonly stopGrad = new Set<Tensor>();
  private readonly names = new Set<string>();
  private readonly scalarCache = new Map<string, Tensor>();
  private counter = 0;
  /** With symbolic sizes (symbolic.ts). */
  symbolic?: SymbolicSizes;
  /**
   * While a graph is traced at several sizes (symbolic.ts), int64 constants are never shared by value: a shape
   * that equals another one at one size (16 positions, d_head 16) must stay its own constant at every size.
   */
  static tracing = false;

  constructor(readonly name = 'patchwork') {}

  /** A fresh value name; `hint` keeps the ONNX graph readable. */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: the value name "${name}" is already used`);
    this.names.add(name);
    return name;
  }

  input(name: string, shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const t = new Tensor(this, this.claim(name), [...shape], dtype);
    this.inputs.push(t);
    return t;
  }

  /** Marks `t` as a graph output under `name` (an Identity node when the name differs). */
  output(t: Tensor, name?: string): Tensor {
    let out = t;
    if (name !== undefined && name !== t.name) out = this.node('Identity', [t], t.shape, t.dtype, {}, name);
    if (this.outputs.includes(out)) return out;
    this.outputs.push(out);
    return out;
  }

  constant(values: number[] | Float32Array, shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const n = numel(shape);
    if (values.length !== n) throw new Error(`constant: ${values.length} values for shape [${shape}]`);
    const data: ConstantData['values'] =
      dtype === 'int64' ? BigInt64Array.from(Array.from(values, (v) => BigInt(v))) : dtype === 'float32' ? Float32Array.from(values) : [...values];
    const t = new Tensor(this, this.fresh('const'), [...shape], dtype);
    t.constant = { dtype, shape: [...shape], values: data };
    this.constants.push(t);
    return t;
  }

  /** A cached float32 scalar constant of shape []. */
  scalar(v: number): Tensor {
    const key = `f${Object.is(v, -0) ? '-0' : v}`;
    let t = this.scalarCache.get(key);
    if (!t) this.scalarCache.set(key, (t = this.constant([v], [], 'float32')));
    return t;
  }

  /** A cached int64 vector constant (shapes, axes, slice bounds). */
  ints(values: readonly number[]): Tensor {
    if (Graph.tracing) return this.constant([...values], [values.length], 'int64');
    const key = `i${values.join(',')}`;
    let t = this.scalarCache.get(key);
    if (!t) this.scalarCache.set(key, (t = this.constant([...values], [values.length], 'int64')));
    return t;
  }

  /** Appends a node. Ops call this after computing the output shape. */
  node(op: string, inputs: Tensor[], shape: readonly number[], dtype: DType, attrs: Record<string, AttrValue> = {}, name?: string): Tensor {
    for (const i of inputs) if (i.graph !== this) throw new Error(`${op}: input ${i.name} belongs to another graph`);
    const out = new Tensor(this, name === undefined ? this.fresh(op.toLowerCase()) : this.claim(name), [...shape], dtype);
    const node: Node = { op, inputs, output: out, attrs };
    out.producer = node;
    this.nodes.push(node);
    return out;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Numpy-style broadcast of two shapes; throws with both shapes on mismatch. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}
