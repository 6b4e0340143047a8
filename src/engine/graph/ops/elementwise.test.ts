// Shape and dtype inference of the elementwise ops, confirmed by running each graph in onnxruntime-node, and the
// errors for operands that do not fit. (Values and gradients: ../autodiff.test.ts.)
import { describe, expect, it } from 'vitest';
import { shapeChecker } from '../../../../test/helpers/graph-shapes';
import { Graph } from '../graph';
import { Add, Div, Exp, Identity, Less, Log, Mul, Neg, Sqrt, Sub, Tanh, Where, unbroadcast } from './elementwise';

const expectInferred = shapeChecker('elementwise_shapes');

describe('elementwise shape inference', () => {
  it('binary ops broadcast numpy-style', async () => {
    for (const op of [Add, Sub, Mul, Div]) {
      await expectInferred((g) => op(g.input('a', [2, 1, 4]), g.input('b', [3, 1])), [2, 3, 4]);
      await expectInferred((g) => op(g.input('a', [5]), g.input('b', [])), [5]);
      await expectInferred((g) => op(g.input('a', [1]), g.input('b', [2, 3])), [2, 3]);
    }
  });

  it('a number on either side is a float32 scalar', async () => {
    await expectInferred((g) => Sub(1, g.input('x', [2, 3])), [2, 3]);
    await expectInferred((g) => Div(g.input('x', [4]), 2), [4]);
  });

  it('int64 operands keep int64', async () => {
    await expectInferred((g) => Add(g.input('a', [3], 'int64'), g.input('b', [2, 1], 'int64')), [2, 3], 'int64');
  });

  it('unary ops keep shape and dtype', async () => {
    for (const op of [Neg, Exp, Log, Tanh, Sqrt, Identity]) await expectInferred((g) => op(g.input('x', [2, 1, 3])), [2, 1, 3]);
    await expectInferred((g) => Neg(g.input('x', [4], 'int64')), [4], 'int64');
  });

  it('Identity takes a name', () => {
    const g = new Graph();
    expect(Identity(g.input('x', [2]), 'named').name).toBe('named');
  });

  it('Where broadcasts condition and both branches; numbers become scalars', async () => {
    await expectInferred((g) => Where(g.input('c', [3, 1], 'bool'), g.input('a', [1, 4]), 0), [3, 4]);
    await expectInferred((g) => Where(g.input('c', [2, 1, 1], 'bool'), g.input('a', [3, 1]), g.input('b', [4])), [2, 3, 4]);
    await expectInferred((g) => Where(g.input('c', [2, 2], 'bool'), 1, 2), [2, 2]);
  });

  it('Less gives bool', async () => {
    await expectInferred((g) => Less(g.input('a', [2, 3]), 0.5), [2, 3], 'bool');
    await expectInferred((g) => Less(g.input('a', [3], 'int64'), g.input('b', [2, 1], 'int64')), [2, 3], 'bool');
  });

  it('unbroadcast sums a gradient back to the shape of a broadcast operand', async () => {
    await expectInferred((g) => unbroadcast(g.input('g', [2, 3, 4]), [3, 1]), [3, 1]);
    await expectInferred((g) => unbroadcast(g.input('g', [2, 3]), []), []);
    const g = new Graph();
    const same = g.input('same', [2, 3]);
    expect(unbroadcast(same, [2, 3])).toBe(same);
  });
});

describe('elementwise errors name the op and the shapes', () => {
  const g = new Graph();
  const x23 = g.input('x23', [2, 3]);
  const x4 = g.input('x4', [4]);
  const i3 = g.input('i3', [3], 'int64');
  const c23 = g.input('c23', [2, 3], 'bool');

  it('shapes that do not broadcast', () => {
    expect(() => Add(x23, x4)).toThrow('Add: shapes [2,3] and [4] do not broadcast');
    expect(() => Mul(x4, x23)).toThrow('Mul: shapes [4] and [2,3] do not broadcast');
    expect(() => Less(x23, x4)).toThrow('Less: shapes [2,3] and [4] do not broadcast');
    expect(() => Where(c23, x4, 0)).toThrow('Where: shapes [2,3] and [4] do not broadcast');
  });

  it('dtypes that differ', () => {
    expect(() => Add(x23, i3)).toThrow('Add: operand dtypes differ: float32 [2, 3] and int64 [3]');
    expect(() => Less(i3, 0)).toThrow('Less: operand dtypes differ: int64 [3] and float32 []');
    expect(() => Where(c23, x23, i3)).toThrow('Where: branch dtypes differ: float32 [2, 3] and int64 [3]');
  });

  it('a condition that is not bool', () => {
    expect(() => Where(x23, 1, 0)).toThrow('Where: the condition must be bool, got float32 [2, 3]');
  });

  it('two numbers', () => {
    expect(() => Add(1, 2)).toThrow('Add: both operands are numbers (1, 2); at least one must be a tensor');
  });

  it('an input from another graph', () => {
    const other = new Graph('other').input('y', [2, 3]);
    expect(() => Add(x23, other)).toThrow('Add: input y belongs to another graph');
  });
});
