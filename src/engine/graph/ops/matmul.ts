// MatMul with numpy batch broadcasting, and its gradient rule.
import { broadcastShapes, fmtShape, type Tensor } from '../graph';
import { unbroadcast } from './elementwise';
import { Reshape, Transpose } from './shape-reduce';
import type { GradRule } from './types';

export function MatMul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error(`MatMul: operands must have rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.dtype !== b.dtype) throw new Error(`MatMul: operand dtypes differ: ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${fmtShape(b.shape)}`);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`MatMul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  const batch = broadcastShapes(`MatMul ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}, batch`, a.shape.slice(0, -2), b.shape.slice(0, -2));
  return a.graph.node('MatMul', [a, b], [...batch, m, n], a.dtype);
}

/** Swaps the last two axes. */
export function mT(x: Tensor): Tensor {
  if (x.rank < 2) throw new Error(`mT: needs rank >= 2, got ${fmtShape(x.shape)}`);
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return Transpose(x, perm);
}

export const matmulRules: Record<string, GradRule> = {
  MatMul: ({ inputs: [a, b] }, g) => {
    const da = unbroadcast(MatMul(g, mT(b)), a.shape);
    // A rank-2 weight shared by every batch row: fold the batch into rows, one GEMM, no reduction.
    if (b.rank === 2 && a.rank > 2) {
      const rows = a.size / a.shape[a.rank - 1];
      const a2 = Reshape(a, [rows, a.shape[a.rank - 1]]);
      const g2 = Reshape(g, [rows, g.shape[g.rank - 1]]);
      return [da, MatMul(mT(a2), g2)];
    }
    return [da, unbroadcast(MatMul(mT(a), g), b.shape)];
  },
};

/** a [M, K] @ b[N, K]^T => [M, N] (ONNX Gemm with transB = 1): the tied unembedding without copying W_E. */
export function GemmTransB(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[1] || a.dtype !== b.dtype)
    throw new Error(`Gemm: expected [M, K] and [N, K] of one dtype, got ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${fmtShape(b.shape)}`);
  return a.graph.node('Gemm', [a, b], [a.shape[0], b.shape[0]], a.dtype, { transB: 1 });
}

export const gemmRules: Record<string, GradRule> = {
  // Y = A B^T: dA = G B, dB = G^T A
  Gemm: ({ inputs: [a, b], attrs }, g) => {
    if (attrs.transB !== 1 || attrs.transA) throw new Error('autodiff: Gemm gradient is written for transB = 1 only');
    return [MatMul(g, b), MatMul(mT(g), a)];
  },
};
