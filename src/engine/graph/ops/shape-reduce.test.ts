// Shape and dtype inference of the shape ops and reductions, confirmed by running each graph in onnxruntime-node,
// and the errors for arguments that do not fit. (Values and gradients: ../autodiff.test.ts.)
import { describe, expect, it } from 'vitest';
import { shapeChecker } from '../../../../test/helpers/graph-shapes';
import { Graph, type Tensor } from '../graph';
import { Concat, Expand, Gather, GatherND, Pad, ReduceMax, ReduceSum, Reshape, ScatterNDAdd, Slice, Transpose } from './shape-reduce';

const expectInferred = shapeChecker('shape_reduce_shapes');

const ints = (t: Tensor) => Array.from(t.constant!.values as BigInt64Array, Number);

describe('shape inference', () => {
  it('Reshape to a fully given shape, any dtype', async () => {
    await expectInferred((g) => Reshape(g.input('x', [2, 6]), [3, 2, 2]), [3, 2, 2]);
    await expectInferred((g) => Reshape(g.input('x', [1, 1]), []), []);
    await expectInferred((g) => Reshape(g.input('x', [4], 'int64'), [2, 2]), [2, 2], 'int64');
  });

  it('Transpose permutes the axes', async () => {
    await expectInferred((g) => Transpose(g.input('x', [2, 3, 4]), [2, 0, 1]), [4, 2, 3]);
    await expectInferred((g) => Transpose(g.input('x', [2, 3]), [1, 0]), [3, 2]);
  });

  it('ReduceSum and ReduceMax: negative axes, keepdims, every axis', async () => {
    for (const op of [ReduceSum, ReduceMax]) {
      await expectInferred((g) => op(g.input('x', [2, 3, 4]), [-1]), [2, 3]);
      await expectInferred((g) => op(g.input('x', [2, 3, 4]), [0, -1], true), [1, 3, 1]);
      await expectInferred((g) => op(g.input('x', [2, 3, 4]), [2, 0, 1]), []);
    }
  });

  it('reductions store their axes as non-negative (opset 17: ReduceSum as an input, ReduceMax as an attribute)', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3, 4]);
    const s = ReduceSum(x, [-1, 0], true);
    expect(ints(s.producer!.inputs[1])).toEqual([2, 0]);
    expect(s.producer!.attrs).toEqual({ keepdims: 1 });
    expect(ReduceMax(x, [-2]).producer!.attrs).toEqual({ axes: [1], keepdims: 0 });
  });

  it('Expand broadcasts both ways', async () => {
    await expectInferred((g) => Expand(g.input('x', [3, 1]), [2, 3, 4]), [2, 3, 4]);
    await expectInferred((g) => Expand(g.input('x', [3, 1]), [1, 4]), [3, 4]);
    await expectInferred((g) => Expand(g.input('x', [2, 3]), [3]), [2, 3]);
  });

  it('Slice on a (negative) axis', async () => {
    await expectInferred((g) => Slice(g.input('x', [4, 5]), -1, 1, 4), [4, 3]);
    await expectInferred((g) => Slice(g.input('x', [4, 5, 2]), 1, 0, 5), [4, 5, 2]);
    await expectInferred((g) => Slice(g.input('x', [4, 5], 'int64'), 0, 3, 4), [1, 5], 'int64');
  });

  it('Concat on a (negative) axis, with the axis attribute non-negative', async () => {
    await expectInferred((g) => Concat([g.input('a', [2, 1, 3]), g.input('b', [2, 2, 3]), g.input('c', [2, 3, 3])], 1), [2, 6, 3]);
    await expectInferred((g) => Concat([g.input('a', [2, 2]), g.input('b', [2, 3])], -1), [2, 5]);
    await expectInferred((g) => Concat([g.input('a', [2, 2])], 0), [2, 2]);
    const g = new Graph();
    expect(Concat([g.input('a', [2, 2]), g.input('b', [2, 3])], -1).producer!.attrs).toEqual({ axis: 1 });
  });

  it('Pad with [begin..., end...]', async () => {
    await expectInferred((g) => Pad(g.input('x', [2, 3]), [1, 0, 2, 1]), [5, 4]);
    await expectInferred((g) => Pad(g.input('x', [2, 3]), [0, 0, 0, 0]), [2, 3]);
  });

  it('Gather: indices shape then the trailing axes of data', async () => {
    await expectInferred((g) => Gather(g.input('data', [5, 3]), g.input('idx', [2, 2], 'int64')), [2, 2, 3]);
    await expectInferred((g) => Gather(g.input('data', [5, 3, 2]), g.input('idx', [], 'int64')), [3, 2]);
    await expectInferred((g) => Gather(g.input('data', [5]), g.input('idx', [4], 'int64')), [4]);
  });

  it('GatherND: indices [..., k] pick the first k axes of data', async () => {
    await expectInferred((g) => GatherND(g.input('data', [4, 5, 3]), g.input('idx', [7, 2], 'int64')), [7, 3]);
    await expectInferred((g) => GatherND(g.input('data', [4, 5, 3]), g.input('idx', [2, 6, 1], 'int64')), [2, 6, 5, 3]);
    await expectInferred((g) => GatherND(g.input('data', [4, 5]), g.input('idx', [3, 2], 'int64')), [3]);
  });

  it('ScatterNDAdd keeps the shape of data', async () => {
    await expectInferred((g) => ScatterNDAdd(g.input('data', [5, 3]), g.input('idx', [2, 2, 1], 'int64'), g.input('u', [2, 2, 3])), [5, 3]);
  });
});

describe('errors name the op and the shapes', () => {
  const g = new Graph();
  const x = g.input('x', [2, 3, 4]);
  const m = g.input('m', [2, 3]);

  it('Reshape: -1, 0 and wrong sizes', () => {
    expect(() => Reshape(m, [-1, 2])).toThrow('Reshape: target [-1, 2] for [2, 3] must list every dimension as a positive integer (no -1 or 0)');
    expect(() => Reshape(m, [0, 6])).toThrow('must list every dimension as a positive integer (no -1 or 0)');
    expect(() => Reshape(m, [1.5, 4])).toThrow('must list every dimension as a positive integer');
    expect(() => Reshape(m, [4, 2])).toThrow('Reshape: cannot reshape [2, 3] (6 values) to [4, 2] (8)');
  });

  it('Transpose: a perm that is not a permutation', () => {
    expect(() => Transpose(x, [0, 1])).toThrow('Transpose: perm [0,1] is not a permutation of the axes of [2, 3, 4]');
    expect(() => Transpose(x, [0, 0, 1])).toThrow('Transpose: perm [0,0,1] is not a permutation');
    expect(() => Transpose(x, [0, 1, 3])).toThrow('Transpose: perm [0,1,3] is not a permutation');
  });

  it('reductions: axes out of range, repeated or missing', () => {
    expect(() => ReduceSum(x, [3])).toThrow('ReduceSum: axis 3 is out of range for [2, 3, 4]');
    expect(() => ReduceSum(x, [-4])).toThrow('ReduceSum: axis -4 is out of range for [2, 3, 4]');
    expect(() => ReduceSum(x, [1, -2])).toThrow('ReduceSum: axes [1,-2] repeat an axis of [2, 3, 4]');
    expect(() => ReduceSum(x, [])).toThrow('ReduceSum: no axes given for [2, 3, 4] (list them; ONNX would reduce all)');
    expect(() => ReduceMax(x, [5])).toThrow('ReduceMax: axis 5 is out of range for [2, 3, 4]');
    expect(() => ReduceMax(x, [])).toThrow('ReduceMax: no axes given');
  });

  it('Expand: shapes that do not broadcast', () => {
    expect(() => Expand(m, [4])).toThrow('Expand: shapes [2,3] and [4] do not broadcast');
  });

  it('Slice: bounds and axis', () => {
    expect(() => Slice(m, 1, 0, 4)).toThrow('Slice: [0:4] out of range for axis 1 of [2, 3]');
    expect(() => Slice(m, 1, 2, 2)).toThrow('Slice: [2:2] out of range for axis 1 of [2, 3]');
    expect(() => Slice(m, 0, -1, 1)).toThrow('Slice: [-1:1] out of range for axis 0 of [2, 3]');
    expect(() => Slice(m, 2, 0, 1)).toThrow('Slice: axis 2 is out of range for [2, 3]');
  });

  it('Concat: inputs that do not fit', () => {
    expect(() => Concat([], 0)).toThrow('Concat: no inputs');
    expect(() => Concat([m, g.input('b', [3, 3])], 1)).toThrow('Concat: on axis 1, float32 [3, 3] does not fit float32 [2, 3]');
    expect(() => Concat([m, x], 0)).toThrow('Concat: on axis 0, float32 [2, 3, 4] does not fit float32 [2, 3]');
    expect(() => Concat([m, g.input('i', [2, 3], 'int64')], 0)).toThrow('Concat: on axis 0, int64 [2, 3] does not fit float32 [2, 3]');
    expect(() => Concat([m, m], 2)).toThrow('Concat: axis 2 is out of range for [2, 3]');
  });

  it('Pad: pads of the wrong length or negative', () => {
    expect(() => Pad(m, [1, 1])).toThrow('Pad: pads [1,1] for [2, 3] must be 4 non-negative integers');
    expect(() => Pad(m, [0, -1, 0, 0])).toThrow('Pad: pads [0,-1,0,0] for [2, 3] must be 4 non-negative integers');
  });

  it('GatherND: indices that are not int64 or pick more axes than data has', () => {
    expect(() => GatherND(m, g.input('fnd', [2, 1]))).toThrow('GatherND: needs int64 indices [..., k] with 1 <= k <= 2 for data [2, 3], got float32 [2, 1]');
    expect(() => GatherND(m, g.input('nd3', [2, 3], 'int64'))).toThrow('GatherND: needs int64 indices');
  });

  it('Gather: indices that are not int64', () => {
    expect(() => Gather(m, g.input('fidx', [2]))).toThrow('Gather: needs data of rank >= 1 and int64 indices, got float32 [2, 3] and float32 [2]');
    expect(() => Gather(g.input('s', []), g.input('idx', [2], 'int64'))).toThrow('Gather: needs data of rank >= 1');
  });

  it('ScatterNDAdd: indices and updates that do not fit', () => {
    const idx = g.input('sidx', [2, 1], 'int64');
    expect(() => ScatterNDAdd(m, idx, g.input('u1', [2, 2]))).toThrow(
      'ScatterND: data float32 [2, 3] needs int64 indices [..., 1] and float32 updates [2, 3], got int64 [2, 1] and float32 [2, 2]',
    );
    expect(() => ScatterNDAdd(m, g.input('sidx2', [2, 2], 'int64'), g.input('u2', [2, 3]))).toThrow('ScatterND: data float32 [2, 3] needs int64 indices [..., 1]');
  });
});
