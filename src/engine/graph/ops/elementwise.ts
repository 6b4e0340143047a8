// Elementwise ops (numpy broadcasting) and their gradient rules.
import { broadcastShapes, fmtShape, sameShape, type DType, type Tensor } from '../graph';
import { ReduceSum, Reshape } from './shape-reduce';
import type { GradRule } from './types';

export type Operand = Tensor | number;

function lift(ref: Tensor, x: Operand): Tensor {
  return typeof x === 'number' ? ref.graph.scalar(x) : x;
}

/** The tensor operand that carries the graph (a binary op of two numbers has none). */
function refOf(op: string, a: Operand, b: Operand): Tensor {
  if (typeof a !== 'number') return a;
  if (typeof b !== 'number') return b;
  throw new Error(`${op}: both operands are numbers (${a}, ${b}); at least one must be a tensor`);
}

function binary(op: string, a: Operand, b: Operand, dtype?: DType): Tensor {
  const ref = refOf(op, a, b);
  const ta = lift(ref, a);
  const tb = lift(ref, b);
  if (ta.dtype !== tb.dtype) throw new Error(`${op}: operand dtypes differ: ${ta.dtype} ${fmtShape(ta.shape)} and ${tb.dtype} ${fmtShape(tb.shape)}`);
  return ref.graph.node(op, [ta, tb], broadcastShapes(op, ta.shape, tb.shape), dtype ?? ta.dtype);
}

function unary(op: string, x: Tensor): Tensor {
  return x.graph.node(op, [x], x.shape, x.dtype);
}

export const Add = (a: Operand, b: Operand) => binary('Add', a, b);
export const Sub = (a: Operand, b: Operand) => binary('Sub', a, b);
export const Mul = (a: Operand, b: Operand) => binary('Mul', a, b);
export const Div = (a: Operand, b: Operand) => binary('Div', a, b);
export const Neg = (x: Tensor) => unary('Neg', x);
export const Exp = (x: Tensor) => unary('Exp', x);
export const Log = (x: Tensor) => unary('Log', x);
export const Tanh = (x: Tensor) => unary('Tanh', x);
export const Sqrt = (x: Tensor) => unary('Sqrt', x);
export const Identity = (x: Tensor, name?: string) => x.graph.node('Identity', [x], x.shape, x.dtype, {}, name);

/** Where(cond, a, b): a where cond is true, else b (broadcasting all three). */
export function Where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (cond.dtype !== 'bool') throw new Error(`Where: the condition must be bool, got ${cond.dtype} ${fmtShape(cond.shape)}`);
  const ta = lift(cond, a);
  const tb = lift(cond, b);
  if (ta.dtype !== tb.dtype) throw new Error(`Where: branch dtypes differ: ${ta.dtype} ${fmtShape(ta.shape)} and ${tb.dtype} ${fmtShape(tb.shape)}`);
  const shape = broadcastShapes('Where', broadcastShapes('Where', cond.shape, ta.shape), tb.shape);
  return cond.graph.node('Where', [cond, ta, tb], shape, ta.dtype);
}

/** Boolean comparisons (no gradient): masks for Where. */
export function Less(a: Operand, b: Operand): Tensor {
  return binary('Less', a, b, 'bool');
}

/** Sums `g` over the axes along which an input of `shape` was broadcast, giving it back that shape. */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const summed = axes.length ? ReduceSum(g, axes, true) : g;
  return Reshape(summed, shape);
}

export const elementwiseRules: Record<string, GradRule> = {
  Add: ({ inputs: [a, b] }, g) => [unbroadcast(g, a.shape), unbroadcast(g, b.shape)],
  Sub: ({ inputs: [a, b] }, g) => [unbroadcast(g, a.shape), unbroadcast(Neg(g), b.shape)],
  Mul: ({ inputs: [a, b] }, g) => [unbroadcast(Mul(g, b), a.shape), unbroadcast(Mul(g, a), b.shape)],
  // d(a/b) = g/b, -g*a/b^2 = -(g/b) * out
  Div: ({ inputs: [a, b], output }, g) => {
    const gb = Div(g, b);
    return [unbroadcast(gb, a.shape), unbroadcast(Neg(Mul(gb, output)), b.shape)];
  },
  Neg: (_n, g) => [Neg(g)],
  Exp: ({ output }, g) => [Mul(g, output)],
  Log: ({ inputs: [x] }, g) => [Div(g, x)],
  Tanh: ({ output }, g) => [Mul(g, Sub(1, Mul(output, output)))],
  Sqrt: ({ output }, g) => [Div(g, Mul(output, 2))],
  Identity: (_n, g) => [g],
  Where: ({ inputs: [c, a, b] }, g) => [null, unbroadcast(Where(c, g, 0), a.shape), unbroadcast(Where(c, 0, g), b.shape)],
  Less: () => [null, null],
};
