// Shape inference of MatMul (numpy batch broadcasting), mT and the tied-unembedding Gemm, confirmed by running each
// graph in onnxruntime-node, and the errors for operands that do not fit. (Values and gradients: ../autodiff.test.ts.)
import { describe, expect, it } from 'vitest';
import { shapeChecker } from '../../../../test/helpers/graph-shapes';
import { Graph } from '../graph';
import { GemmTransB, MatMul, mT } from './matmul';

const expectInferred = shapeChecker('matmul_shapes');

describe('shape inference', () => {
  it('MatMul: plain, shared weight, batch broadcasting on either side', async () => {
    await expectInferred((g) => MatMul(g.input('a', [3, 4]), g.input('b', [4, 2])), [3, 2]);
    await expectInferred((g) => MatMul(g.input('a', [2, 3, 4]), g.input('b', [4, 5])), [2, 3, 5]);
    await expectInferred((g) => MatMul(g.input('a', [3, 4]), g.input('b', [2, 4, 5])), [2, 3, 5]);
    await expectInferred((g) => MatMul(g.input('a', [2, 1, 3, 4]), g.input('b', [3, 4, 2])), [2, 3, 3, 2]);
    await expectInferred((g) => MatMul(g.input('a', [1, 2, 1, 4]), g.input('b', [2, 1, 4, 1])), [2, 2, 1, 1]);
  });

  it('mT swaps the last two axes', async () => {
    await expectInferred((g) => mT(g.input('x', [2, 3, 4])), [2, 4, 3]);
    await expectInferred((g) => mT(g.input('x', [3, 4])), [4, 3]);
  });

  it('GemmTransB: [M, K] x [N, K]^T', async () => {
    await expectInferred((g) => GemmTransB(g.input('a', [3, 4]), g.input('b', [5, 4])), [3, 5]);
  });
});

describe('errors name the op and the shapes', () => {
  const g = new Graph();
  const a = g.input('a', [2, 3, 4]);

  it('MatMul: inner dimensions, rank, batch, dtype', () => {
    expect(() => MatMul(a, g.input('b1', [3, 5]))).toThrow('MatMul: inner dimensions differ: [2, 3, 4] @ [3, 5]');
    expect(() => MatMul(a, g.input('b2', [4]))).toThrow('MatMul: operands must have rank >= 2, got [2, 3, 4] and [4]');
    expect(() => MatMul(a, g.input('b3', [3, 4, 5]))).toThrow('MatMul [2, 3, 4] @ [3, 4, 5], batch: shapes [2] and [3] do not broadcast');
    expect(() => MatMul(a, g.input('b4', [4, 5], 'int64'))).toThrow('MatMul: operand dtypes differ: float32 [2, 3, 4] and int64 [4, 5]');
  });

  it('mT: rank below 2', () => {
    expect(() => mT(g.input('v', [4]))).toThrow('mT: needs rank >= 2, got [4]');
  });

  it('GemmTransB: shapes other than [M, K] and [N, K]', () => {
    expect(() => GemmTransB(g.input('m', [3, 4]), g.input('n', [4, 5]))).toThrow(
      'Gemm: expected [M, K] and [N, K] of one dtype, got float32 [3, 4] and float32 [4, 5]',
    );
    expect(() => GemmTransB(a, g.input('n2', [5, 4]))).toThrow('Gemm: expected [M, K] and [N, K] of one dtype, got float32 [2, 3, 4]');
  });
});
