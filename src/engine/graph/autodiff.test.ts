// Every gradient rule of GRAD_RULES, and the composites built from primitives, checked against central finite
// differences. The reference is a float64 interpreter of the graph IR written below with plain loops: it imports
// nothing from the engine but the IR types, infers every shape itself (and throws where the graph disagrees), and
// its forward is checked against onnxruntime-node on every graph that it evaluates (forward and gradient graphs).
// Per case f(x) = sum(W * op(x, ...)) with a fixed random W:
//   - the gradient graph evaluated in float64 matches f64 central differences to 1e-7 (the rule itself);
//   - the gradient graph run by onnxruntime-node in float32 matches the same differences to 2e-5 (what ships).
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import type { Feed } from '../runtime/types';
import { GRAD_RULES, grad } from './autodiff';
import { layerNorm, geluNew, logSumExp, meanLast, softmax, stopGradient } from './composite';
import { Graph, type Node, type Tensor } from './graph';
import { Add, Div, Exp, Identity, Less, Log, Mul, Neg, Sqrt, Sub, Tanh, Where } from './ops/elementwise';
import { GemmTransB, MatMul } from './ops/matmul';
import { Concat, Expand, Gather, Pad, ReduceMax, ReduceSum, Reshape, Slice, Transpose } from './ops/shape-reduce';

// ---------------------------------------------------------------------------------------------------------------
// A float64 interpreter of the graph IR (ONNX semantics for the ops the builder emits).

interface Arr {
  shape: number[];
  data: Float64Array;
}

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const shapeEq = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Calls cb for every multi-index of `shape` in row-major order (idx is reused: copy it to keep it). */
function forEachIndex(shape: readonly number[], cb: (idx: number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    cb(idx, f);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** Row-major offset of `idx` into an array of `shape`, right-aligned, size-1 axes broadcast (read at 0). */
function offsetOf(shape: readonly number[], idx: readonly number[]): number {
  const lead = idx.length - shape.length;
  let off = 0;
  for (let i = 0; i < shape.length; i++) off = off * shape[i] + (shape[i] === 1 ? 0 : idx[lead + i]);
  return off;
}

function bcast(...shapes: (readonly number[])[]): number[] {
  const n = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const dims = shapes.map((s) => s[s.length - n + i] ?? 1).filter((d) => d !== 1);
    if (dims.some((d) => d !== dims[0])) throw new Error(`interpreter: shapes ${JSON.stringify(shapes)} do not broadcast`);
    out.push(dims[0] ?? 1);
  }
  return out;
}

function tabulate(shape: readonly number[], f: (idx: number[]) => number): Arr {
  const data = new Float64Array(sizeOf(shape));
  forEachIndex(shape, (idx, flat) => (data[flat] = f(idx)));
  return { shape: [...shape], data };
}

function elementwise(ins: Arr[], f: (...v: number[]) => number): Arr {
  return tabulate(bcast(...ins.map((a) => a.shape)), (idx) => f(...ins.map((a) => a.data[offsetOf(a.shape, idx)])));
}

const ints = (a: Arr) => Array.from(a.data);
const normAxis = (a: number, rank: number) => (a < 0 ? a + rank : a);

function reduce(x: Arr, axes: number[], keep: boolean, init: number, f: (acc: number, v: number) => number): Arr {
  const ax = axes.length ? axes.map((a) => normAxis(a, x.shape.length)) : x.shape.map((_, i) => i);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const data = new Float64Array(sizeOf(kept)).fill(init);
  forEachIndex(x.shape, (idx, flat) => {
    const o = offsetOf(kept, idx);
    data[o] = f(data[o], x.data[flat]);
  });
  return { shape: keep ? kept : x.shape.filter((_, i) => !ax.includes(i)), data };
}

function evalNode(node: Node, ins: Arr[]): Arr {
  const attr = node.attrs;
  const [x] = ins;
  switch (node.op) {
    case 'Add':
      return elementwise(ins, (a, b) => a + b);
    case 'Sub':
      return elementwise(ins, (a, b) => a - b);
    case 'Mul':
      return elementwise(ins, (a, b) => a * b);
    case 'Div':
      return elementwise(ins, (a, b) => a / b);
    case 'Where':
      return elementwise(ins, (c, a, b) => (c ? a : b));
    case 'Less':
      return elementwise(ins, (a, b) => (a < b ? 1 : 0));
    case 'Neg':
      return elementwise(ins, (a) => -a);
    case 'Exp':
      return elementwise(ins, Math.exp);
    case 'Log':
      return elementwise(ins, Math.log);
    case 'Tanh':
      return elementwise(ins, Math.tanh);
    case 'Sqrt':
      return elementwise(ins, Math.sqrt);
    case 'Identity':
      return { shape: [...x.shape], data: x.data.slice() };
    case 'Reshape': {
      const shape = ints(ins[1]);
      if (sizeOf(shape) !== sizeOf(x.shape)) throw new Error(`interpreter: Reshape [${x.shape}] to [${shape}]`);
      return { shape, data: x.data.slice() };
    }
    case 'Transpose': {
      const perm = (attr.perm as number[] | undefined) ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const inIdx = new Array<number>(perm.length);
      return tabulate(
        perm.map((p) => x.shape[p]),
        (idx) => {
          idx.forEach((v, i) => (inIdx[perm[i]] = v));
          return x.data[offsetOf(x.shape, inIdx)];
        },
      );
    }
    case 'ReduceSum':
      return reduce(x, ins[1] ? ints(ins[1]) : [], (attr.keepdims ?? 1) !== 0, 0, (a, v) => a + v);
    case 'ReduceMax':
      return reduce(x, (attr.axes as number[] | undefined) ?? [], (attr.keepdims ?? 1) !== 0, -Infinity, Math.max);
    case 'Expand': {
      const shape = bcast(x.shape, ints(ins[1]));
      return tabulate(shape, (idx) => x.data[offsetOf(x.shape, idx)]);
    }
    case 'Slice': {
      const [starts, ends] = [ints(ins[1]), ints(ins[2])];
      const axes = ins[3] ? ints(ins[3]).map((a) => normAxis(a, x.shape.length)) : starts.map((_, i) => i);
      if (ins[4] && ints(ins[4]).some((s) => s !== 1)) throw new Error('interpreter: Slice steps other than 1');
      const lo = x.shape.map(() => 0);
      const shape = [...x.shape];
      axes.forEach((a, i) => {
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + x.shape[a] : v, 0), x.shape[a]);
        lo[a] = clamp(starts[i]);
        shape[a] = Math.max(clamp(ends[i]) - lo[a], 0);
      });
      return tabulate(shape, (idx) => x.data[offsetOf(x.shape, idx.map((v, i) => v + lo[i]))]);
    }
    case 'Concat': {
      const a = normAxis(attr.axis as number, x.shape.length);
      const shape = [...x.shape];
      shape[a] = ins.reduce((s, t) => s + t.shape[a], 0);
      for (const t of ins)
        if (!shapeEq(t.shape.filter((_, i) => i !== a), x.shape.filter((_, i) => i !== a)))
          throw new Error(`interpreter: Concat of [${t.shape}] and [${x.shape}] on axis ${a}`);
      return tabulate(shape, (idx) => {
        let k = 0;
        let at = idx[a];
        while (at >= ins[k].shape[a]) at -= ins[k++].shape[a];
        const j = [...idx];
        j[a] = at;
        return ins[k].data[offsetOf(ins[k].shape, j)];
      });
    }
    case 'Pad': {
      const pads = ints(ins[1]);
      const r = x.shape.length;
      const value = ins[2] ? ins[2].data[0] : 0;
      if ((attr.mode ?? 'constant') !== 'constant') throw new Error('interpreter: Pad mode');
      return tabulate(
        x.shape.map((d, i) => d + pads[i] + pads[i + r]),
        (idx) => {
          const j = idx.map((v, i) => v - pads[i]);
          return j.every((v, i) => v >= 0 && v < x.shape[i]) ? x.data[offsetOf(x.shape, j)] : value;
        },
      );
    }
    case 'Gather': {
      if ((attr.axis ?? 0) !== 0) throw new Error('interpreter: Gather on an axis other than 0');
      const indices = ins[1];
      const row = sizeOf(x.shape.slice(1));
      const data = new Float64Array(indices.data.length * row);
      indices.data.forEach((i, p) => {
        const r = i < 0 ? i + x.shape[0] : i;
        if (r < 0 || r >= x.shape[0]) throw new Error(`interpreter: Gather index ${i} out of range`);
        data.set(x.data.subarray(r * row, (r + 1) * row), p * row);
      });
      return { shape: [...indices.shape, ...x.shape.slice(1)], data };
    }
    case 'ScatterND': {
      const [indices, updates] = [ins[1], ins[2]];
      if (indices.shape[indices.shape.length - 1] !== 1) throw new Error('interpreter: ScatterND into axis 0 only');
      const row = sizeOf(x.shape.slice(1));
      if (!shapeEq(updates.shape, [...indices.shape.slice(0, -1), ...x.shape.slice(1)]))
        throw new Error(`interpreter: ScatterND updates [${updates.shape}]`);
      const data = x.data.slice();
      const add = attr.reduction === 'add';
      indices.data.forEach((r, p) => {
        for (let j = 0; j < row; j++) data[r * row + j] = (add ? data[r * row + j] : 0) + updates.data[p * row + j];
      });
      return { shape: [...x.shape], data };
    }
    case 'MatMul': {
      const [a, b] = ins;
      const [m, k] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k !== k2) throw new Error(`interpreter: MatMul [${a.shape}] @ [${b.shape}]`);
      const batch = bcast(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return tabulate([...batch, m, n], (idx) => {
        const bi = idx.slice(0, -2);
        const [i, j] = idx.slice(-2);
        let s = 0;
        for (let q = 0; q < k; q++) s += a.data[offsetOf(a.shape, [...bi, i, q])] * b.data[offsetOf(b.shape, [...bi, q, j])];
        return s;
      });
    }
    case 'Gemm': {
      if (ins.length > 2 || attr.alpha !== undefined || attr.beta !== undefined) throw new Error('interpreter: Gemm with C/alpha/beta');
      const [a, b] = ins;
      const A = attr.transA ? (i: number, q: number) => a.data[q * a.shape[1] + i] : (i: number, q: number) => a.data[i * a.shape[1] + q];
      const B = attr.transB ? (q: number, j: number) => b.data[j * b.shape[1] + q] : (q: number, j: number) => b.data[q * b.shape[1] + j];
      const [m, k] = attr.transA ? [a.shape[1], a.shape[0]] : a.shape;
      const n = attr.transB ? b.shape[0] : b.shape[1];
      return tabulate([m, n], ([i, j]) => {
        let s = 0;
        for (let q = 0; q < k; q++) s += A(i, q) * B(q, j);
        return s;
      });
    }
    default:
      throw new Error(`interpreter: no float64 evaluation for op ${node.op}`);
  }
}

function constantArr(t: Tensor): Arr {
  const c = t.constant!;
  return { shape: [...c.shape], data: Float64Array.from(Array.from(c.values as ArrayLike<number | bigint>, Number)) };
}

/** Float64 values of `wanted`, given values for graph inputs (and, to hold them fixed, for any other tensor). */
function interpret(given: Map<Tensor, Arr>, wanted: Tensor[]): Arr[] {
  const vals = new Map(given);
  const get = (t: Tensor): Arr => {
    let v = vals.get(t);
    if (v) return v;
    if (t.constant) v = constantArr(t);
    else if (t.producer) v = evalNode(t.producer, t.producer.inputs.map(get));
    else throw new Error(`interpreter: no value for graph input ${t.name}`);
    if (!shapeEq(v.shape, t.shape)) throw new Error(`interpreter: ${t.producer?.op ?? 'value'} ${t.name} is [${v.shape}], the graph says [${t.shape}]`);
    vals.set(t, v);
    return v;
  };
  return wanted.map(get);
}

// ---------------------------------------------------------------------------------------------------------------
// Cases: one or more per rule in GRAD_RULES.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface InputSpec {
  shape: number[];
  /** Uniform range (default [-1, 1]). */
  range?: [number, number];
  /** Resample values within 0.05 of this point (a Less threshold: FD must not straddle it). */
  avoid?: number;
}

interface Case {
  name: string;
  inputs: Record<string, InputSpec>;
  build: (x: Record<string, Tensor>, g: Graph) => Tensor;
  /** Hold the graph's stopGradient outputs at their unperturbed values in the finite differences. */
  holdStopped?: boolean;
}

const pos: [number, number] = [0.5, 2];
const boolConst = (g: Graph, values: number[], shape: number[]) => g.constant(values, shape, 'bool');

const RULE_CASES: Record<string, Case[]> = {
  Add: [
    { name: '[3,4] + [4]', inputs: { a: { shape: [3, 4] }, b: { shape: [4] } }, build: ({ a, b }) => Add(a, b) },
    { name: '[2,1,4] + [3,1] -> [2,3,4]', inputs: { a: { shape: [2, 1, 4] }, b: { shape: [3, 1] } }, build: ({ a, b }) => Add(a, b) },
    { name: 'x + 2.5', inputs: { x: { shape: [3] } }, build: ({ x }) => Add(x, 2.5) },
  ],
  Sub: [
    { name: '[3,4] - [3,1]', inputs: { a: { shape: [3, 4] }, b: { shape: [3, 1] } }, build: ({ a, b }) => Sub(a, b) },
    { name: '1 - x', inputs: { x: { shape: [2, 2] } }, build: ({ x }) => Sub(1, x) },
  ],
  Mul: [
    { name: '[4,1] * [1,5]', inputs: { a: { shape: [4, 1] }, b: { shape: [1, 5] } }, build: ({ a, b }) => Mul(a, b) },
    { name: 'x * x (fan-out summed)', inputs: { x: { shape: [2, 3] } }, build: ({ x }) => Mul(x, x) },
  ],
  Div: [
    { name: '[3,4] / [4]', inputs: { a: { shape: [3, 4] }, b: { shape: [4], range: pos } }, build: ({ a, b }) => Div(a, b) },
    { name: '1 / x', inputs: { x: { shape: [5], range: pos } }, build: ({ x }) => Div(1, x) },
  ],
  Neg: [{ name: '-x', inputs: { x: { shape: [5] } }, build: ({ x }) => Neg(x) }],
  Exp: [{ name: 'exp x', inputs: { x: { shape: [2, 3] } }, build: ({ x }) => Exp(x) }],
  Log: [{ name: 'log x', inputs: { x: { shape: [2, 3], range: pos } }, build: ({ x }) => Log(x) }],
  Tanh: [{ name: 'tanh x', inputs: { x: { shape: [2, 3], range: [-2, 2] } }, build: ({ x }) => Tanh(x) }],
  Sqrt: [{ name: 'sqrt x', inputs: { x: { shape: [2, 3], range: pos } }, build: ({ x }) => Sqrt(x) }],
  Identity: [{ name: 'identity', inputs: { x: { shape: [3] } }, build: ({ x }) => Identity(x) }],
  Where: [
    {
      name: 'cond [3,1], a [3,4], b [4]',
      inputs: { a: { shape: [3, 4] }, b: { shape: [4] } },
      build: ({ a, b }, g) => Where(boolConst(g, [1, 0, 1], [3, 1]), a, b),
    },
    { name: 'Where(cond, x, 0)', inputs: { x: { shape: [2, 2] } }, build: ({ x }, g) => Where(boolConst(g, [0, 1, 1, 0], [2, 2]), x, 0) },
  ],
  Less: [
    {
      name: 'Where(Less(x, 0), -x, x): |x|',
      inputs: { x: { shape: [6], avoid: 0 } },
      build: ({ x }) => Where(Less(x, 0), Neg(x), x),
    },
  ],
  Reshape: [{ name: '[2,6] -> [3,2,2]', inputs: { x: { shape: [2, 6] } }, build: ({ x }) => Reshape(x, [3, 2, 2]) }],
  Transpose: [{ name: '[2,3,4] perm [2,0,1]', inputs: { x: { shape: [2, 3, 4] } }, build: ({ x }) => Transpose(x, [2, 0, 1]) }],
  ReduceSum: [
    { name: 'axis -1 of [2,3,4]', inputs: { x: { shape: [2, 3, 4] } }, build: ({ x }) => ReduceSum(x, [-1]) },
    { name: 'axes [0,2] keepdims', inputs: { x: { shape: [2, 3, 4] } }, build: ({ x }) => ReduceSum(x, [0, 2], true) },
  ],
  Expand: [
    { name: '[3,1] -> [2,3,4]', inputs: { x: { shape: [3, 1] } }, build: ({ x }) => Expand(x, [2, 3, 4]) },
    { name: '[3,1] by [1,4] -> [3,4]', inputs: { x: { shape: [3, 1] } }, build: ({ x }) => Expand(x, [1, 4]) },
  ],
  Slice: [
    { name: '[4,5] axis -1 [1:4]', inputs: { x: { shape: [4, 5] } }, build: ({ x }) => Slice(x, -1, 1, 4) },
    { name: '[4,5] axis 0 [0:1]', inputs: { x: { shape: [4, 5] } }, build: ({ x }) => Slice(x, 0, 0, 1) },
  ],
  Concat: [
    {
      name: 'three inputs on axis 1',
      inputs: { a: { shape: [2, 1, 3] }, b: { shape: [2, 2, 3] }, c: { shape: [2, 3, 3] } },
      build: ({ a, b, c }) => Concat([a, b, c], 1),
    },
    { name: 'axis -1', inputs: { a: { shape: [2, 2] }, b: { shape: [2, 3] } }, build: ({ a, b }) => Concat([a, b], -1) },
  ],
  Pad: [{ name: '[2,3] pads [1,0,2,1]', inputs: { x: { shape: [2, 3] } }, build: ({ x }) => Pad(x, [1, 0, 2, 1]) }],
  Gather: [
    {
      name: 'rows of [5,3] by [[0,2],[2,4]] (row 2 twice: accumulated)',
      inputs: { x: { shape: [5, 3] } },
      build: ({ x }, g) => Gather(x, g.constant([0, 2, 2, 4], [2, 2], 'int64')),
    },
  ],
  MatMul: [
    { name: '[3,4] @ [4,2]', inputs: { a: { shape: [3, 4] }, b: { shape: [4, 2] } }, build: ({ a, b }) => MatMul(a, b) },
    { name: '[2,3,4] @ [4,5] (shared weight)', inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } }, build: ({ a, b }) => MatMul(a, b) },
    {
      name: '[2,1,3,4] @ [3,4,2] (both broadcast)',
      inputs: { a: { shape: [2, 1, 3, 4] }, b: { shape: [3, 4, 2] } },
      build: ({ a, b }) => MatMul(a, b),
    },
    { name: '[3,4] @ [2,4,5] (a broadcast)', inputs: { a: { shape: [3, 4] }, b: { shape: [2, 4, 5] } }, build: ({ a, b }) => MatMul(a, b) },
  ],
  Gemm: [{ name: '[3,4] @ [5,4]^T', inputs: { a: { shape: [3, 4] }, b: { shape: [5, 4] } }, build: ({ a, b }) => GemmTransB(a, b) }],
};

const COMPOSITE_CASES: Case[] = [
  { name: 'softmax (max-subtraction)', inputs: { x: { shape: [2, 5], range: [-3, 3] } }, build: ({ x }) => softmax(x) },
  { name: 'softmax of a rank-3 tensor', inputs: { x: { shape: [2, 2, 3], range: [-3, 3] } }, build: ({ x }) => softmax(x) },
  { name: 'logSumExp', inputs: { x: { shape: [3, 4], range: [-3, 3] } }, build: ({ x }) => logSumExp(x) },
  { name: 'meanLast', inputs: { x: { shape: [3, 4] } }, build: ({ x }) => meanLast(x) },
  { name: 'geluNew', inputs: { x: { shape: [2, 6], range: [-3, 3] } }, build: ({ x }) => geluNew(x) },
  {
    name: 'layerNorm (x, w, b)',
    inputs: { x: { shape: [2, 6], range: [-2, 2] }, w: { shape: [6] }, b: { shape: [6] } },
    build: ({ x, w, b }) => layerNorm(x, w, b, 1e-5).out,
  },
  {
    name: 'layerNorm scale hook',
    inputs: { x: { shape: [3, 4], range: [-2, 2] } },
    build: ({ x }, g) => layerNorm(x, g.constant([1, 2, 3, 4], [4]), g.constant([0, 0, 1, 1], [4]), 1e-5).scale,
  },
  {
    name: 'x * stopGradient(x): only the first factor is differentiated',
    inputs: { x: { shape: [2, 3] } },
    build: ({ x }) => Mul(x, stopGradient(x)),
    holdStopped: true,
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The check.

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

function makeInput(spec: InputSpec, next: () => number): Arr {
  const [lo, hi] = spec.range ?? [-1, 1];
  const data = new Float64Array(sizeOf(spec.shape));
  for (let i = 0; i < data.length; i++) {
    let v: number;
    do v = Math.fround(lo + (hi - lo) * next());
    while (spec.avoid !== undefined && Math.abs(v - spec.avoid) < 0.05);
    data[i] = v;
  }
  return { shape: spec.shape, data };
}

/** max |a - e| <= tol * max(1, max |e|), with a message naming the case. */
function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let err = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  expect(err, `${what}: max |diff| ${err.toExponential(2)} (scale ${scale.toFixed(3)})`).toBeLessThanOrEqual(tol * scale);
}

let caseCounter = 0;

async function checkCase(op: string, c: Case): Promise<void> {
  const next = rng(1234 + caseCounter);
  const g = new Graph(`grad_case_${caseCounter++}`);
  const x: Record<string, Tensor> = {};
  const xv = new Map<Tensor, Arr>();
  for (const [name, spec] of Object.entries(c.inputs)) {
    x[name] = g.input(name, spec.shape);
    xv.set(x[name], makeInput(spec, next));
  }
  const nodesBefore = g.nodes.length;
  const y = c.build(x, g);
  if (op !== 'composite') expect(g.nodes.slice(nodesBefore).some((n) => n.op === op), `${c.name} builds a ${op} node`).toBe(true);
  const W = g.constant(Float32Array.from(makeInput({ shape: [...y.shape] }, next).data), y.shape);
  const f = ReduceSum(Mul(y, W), y.shape.map((_, i) => i));
  const wrt = Object.values(x);
  const grads = grad(f, wrt);
  g.output(y, 'y');
  g.output(f, 'f');
  grads.forEach((gt, i) => {
    expect(gt, `${c.name}: gradient for ${wrt[i].name}`).not.toBeNull();
    g.output(gt!, `grad_${wrt[i].name}`);
  });

  // onnxruntime-node (float32) and the interpreter (float64) on the same graph: the interpreter's semantics.
  const feeds: Record<string, Feed> = {};
  for (const [t, v] of xv) feeds[t.name] = { dtype: 'float32', shape: v.shape, data: Float32Array.from(v.data) };
  const ort = await rt.run(g.name, () => g, feeds);
  const outs = g.outputs;
  const f64 = interpret(xv, outs);
  outs.forEach((o, i) => {
    expect(ort[o.name].shape, `${c.name}: onnxruntime shape of ${o.name}`).toEqual([...o.shape]);
    expectClose(`${c.name}: interpreter vs onnxruntime, ${o.name}`, f64[i].data, ort[o.name].data, 2e-5);
  });

  // Central differences of f in float64, holding stopGradient outputs where the case asks for it.
  const held = new Map(xv);
  if (c.holdStopped) {
    const stopped = [...g.stopGrad];
    interpret(xv, stopped).forEach((v, i) => held.set(stopped[i], v));
  }
  const eps = 1e-5;
  wrt.forEach((t, k) => {
    const base = xv.get(t)!;
    const fd = new Float64Array(base.data.length);
    for (let i = 0; i < fd.length; i++) {
      const at = (delta: number) => {
        const data = base.data.slice();
        data[i] += delta;
        return interpret(new Map(held).set(t, { shape: base.shape, data }), [f])[0].data[0];
      };
      fd[i] = (at(eps) - at(-eps)) / (2 * eps);
    }
    // f64: truncation ~eps^2 |f'''| ~ 1e-9 and rounding ~1e-16 |f| / eps ~ 1e-10 for these O(1) inputs.
    expectClose(`${c.name}: d f/d ${t.name}, float64 gradient graph vs finite differences`, f64[2 + k].data, fd, 1e-7);
    // float32 in onnxruntime: a few ulps (6e-8) per op over graphs of ~10 ops and sums of <= 24 terms.
    expectClose(`${c.name}: d f/d ${t.name}, onnxruntime gradient vs finite differences`, ort[`grad_${t.name}`].data, fd, 2e-5);
  });
}

describe('gradient rules against float64 finite differences', () => {
  it('every rule in GRAD_RULES has a case here, and every case a rule', () => {
    expect(Object.keys(RULE_CASES).sort()).toEqual(Object.keys(GRAD_RULES).sort());
  });

  for (const op of Object.keys(GRAD_RULES))
    it(`${op}`, async () => {
      const cases = RULE_CASES[op];
      expect(cases?.length, `no finite-difference case for the rule of ${op}: add one to RULE_CASES`).toBeGreaterThan(0);
      for (const c of cases) await checkCase(op, c);
    });
});

describe('composites (no rules of their own) against float64 finite differences', () => {
  for (const c of COMPOSITE_CASES) it(c.name, () => checkCase('composite', c));
});

describe('grad: edges and errors', () => {
  it('fails loudly, naming the op and the node, when a rule is missing', () => {
    const g = new Graph('missing_rule');
    const x = g.input('x', [2, 3]);
    const m = ReduceMax(x, [1]); // no rule: it is meant to sit under stopGradient only
    expect(GRAD_RULES.ReduceMax).toBeUndefined();
    expect(() => grad(ReduceSum(m, [0]), [x])).toThrow(`autodiff: no gradient rule for op ReduceMax (node ${m.name})`);
  });

  it('refuses a Gemm that is not transB = 1, the only form its rule is written for', () => {
    const g = new Graph('gemm_plain');
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [3, 4]);
    const y = g.node('Gemm', [a, b], [2, 4], 'float32');
    expect(() => grad(ReduceSum(y, [0, 1]), [a])).toThrow('autodiff: Gemm gradient is written for transB = 1 only');
  });

  it('needs a scalar loss unless a seed is given', () => {
    const g = new Graph('not_scalar');
    const x = g.input('x', [2, 3]);
    expect(() => grad(Exp(x), [x])).toThrow('grad: loss must be a scalar, got shape [2,3]');
  });

  it('refuses a seed whose shape is not the loss shape', () => {
    const g = new Graph('bad_seed');
    const x = g.input('x', [2, 2]);
    const y = Exp(x);
    expect(() => grad(y, [x], g.input('s', [4]))).toThrow("grad: the seed [4] must have the loss's shape [2, 2]");
    expect(() => grad(y, [x], g.input('s2', [1, 2]))).toThrow("grad: the seed [1, 2] must have the loss's shape [2, 2]");
  });

  it('gives null where the loss does not depend on a tensor, through stopGradient, or only through Less', () => {
    const g = new Graph('nulls');
    const x = g.input('x', [3]);
    const z = g.input('z', [3]);
    const W = g.constant([0.5, -1, 2], [3]);
    expect(grad(ReduceSum(Mul(stopGradient(x), W), [0]), [x])).toEqual([null]);
    expect(grad(ReduceSum(Mul(Where(Less(x, 0), 1, 2), W), [0]), [x])).toEqual([null]);
    const [gx, gz] = grad(ReduceSum(Mul(z, W), [0]), [x, z]);
    expect(gx).toBeNull();
    expect(gz).not.toBeNull();
  });

  it('a seed gives the vector-Jacobian product, and a [1, 1] loss works like a scalar one', async () => {
    const g = new Graph('seed');
    const a = g.input('a', [2, 3]);
    const b = g.input('b', [3, 2]);
    const y = MatMul(a, b);
    const W = g.constant([1, -2, 0.5, 3], [2, 2]);
    const [viaSeed] = grad(y, [a], W);
    const [viaSum] = grad(ReduceSum(Mul(y, W), [0, 1]), [a]);
    const [viaKeep] = grad(ReduceSum(Mul(y, W), [0, 1], true), [a]); // loss of shape [1, 1]
    g.output(viaSeed!, 'seed');
    g.output(viaSum!, 'sum');
    g.output(viaKeep!, 'keep');
    const next = rng(99);
    const av = makeInput({ shape: [2, 3] }, next);
    const bv = makeInput({ shape: [3, 2] }, next);
    const feeds: Record<string, Feed> = {
      a: { dtype: 'float32', shape: [2, 3], data: Float32Array.from(av.data) },
      b: { dtype: 'float32', shape: [3, 2], data: Float32Array.from(bv.data) },
    };
    const out = await rt.run(g.name, () => g, feeds);
    // dL/da = W b^T, computed here by hand.
    const w = constantArr(W).data;
    const expected = tabulate([2, 3], ([i, k]) => w[i * 2] * bv.data[k * 2] + w[i * 2 + 1] * bv.data[k * 2 + 1]);
    for (const name of ['seed', 'sum', 'keep']) {
      expect(out[name].shape).toEqual([2, 3]);
      expectClose(`gradient by ${name}`, out[name].data, expected.data, 1e-6);
    }
  });
});
