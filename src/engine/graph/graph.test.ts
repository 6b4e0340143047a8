// The graph IR itself: names, inputs, outputs, constants and their caches, nodes, and the shape helpers.
import { describe, expect, it } from 'vitest';
import { broadcastShapes, fmtShape, Graph, sameShape } from './graph';

describe('Graph', () => {
  it('claims input names once and freshens generated ones', () => {
    const g = new Graph('names');
    const x = g.input('x', [2, 3]);
    expect(x).toMatchObject({ name: 'x', shape: [2, 3], dtype: 'float32', rank: 2, size: 6 });
    expect(g.input('ids', [4], 'int64').dtype).toBe('int64');
    expect(() => g.input('x', [1])).toThrow('graph names: the value name "x" is already used');
    const a = g.node('Exp', [x], x.shape, 'float32');
    const b = g.node('Exp', [x], x.shape, 'float32');
    expect(a.name).not.toBe(b.name);
    expect(() => g.node('Exp', [x], x.shape, 'float32', {}, 'x')).toThrow('the value name "x" is already used');
    expect(g.inputs.map((t) => t.name)).toEqual(['x', 'ids']);
  });

  it('records a node on its output and refuses inputs of another graph', () => {
    const g = new Graph('nodes');
    const x = g.input('x', [3]);
    const y = g.node('Transpose', [x], [3], 'float32', { perm: [0] });
    expect(y.producer).toEqual({ op: 'Transpose', inputs: [x], output: y, attrs: { perm: [0] } });
    expect(g.nodes).toEqual([y.producer]);
    expect(() => g.node('Neg', [new Graph('other').input('z', [3])], [3], 'float32')).toThrow('Neg: input z belongs to another graph');
  });

  it('outputs: a renamed output is an Identity, and the same output is listed once', () => {
    const g = new Graph('outs');
    const x = g.input('x', [2]);
    const y = g.node('Neg', [x], [2], 'float32');
    expect(g.output(y)).toBe(y);
    expect(g.output(y)).toBe(y);
    const named = g.output(y, 'named');
    expect(named.producer).toMatchObject({ op: 'Identity', inputs: [y] });
    expect(g.outputs.map((t) => t.name)).toEqual([y.name, 'named']);
    expect(() => g.output(x, 'named')).toThrow('the value name "named" is already used');
  });

  it('constants hold typed data; scalars and int vectors are cached', () => {
    const g = new Graph('consts');
    const f = g.constant([1.5, 2], [2]);
    expect(f.constant).toEqual({ dtype: 'float32', shape: [2], values: Float32Array.from([1.5, 2]) });
    expect(g.constant([3, -1], [2], 'int64').constant!.values).toEqual(BigInt64Array.from([3n, -1n]));
    expect(g.constant([1, 0], [2], 'bool').constant!.values).toEqual([1, 0]);
    expect(() => g.constant([1, 2, 3], [2, 2])).toThrow('constant: 3 values for shape [2,2]');
    expect(g.scalar(0.5)).toBe(g.scalar(0.5));
    expect(g.scalar(0)).not.toBe(g.scalar(-0));
    expect(g.scalar(0.5).shape).toEqual([]);
    expect(g.ints([1, 2])).toBe(g.ints([1, 2]));
    expect(g.ints([1, 2])).not.toBe(g.ints([12]));
    expect(g.ints([1, 2]).dtype).toBe('int64');
    expect(g.constants.length).toBe(8); // 3 explicit, scalars 0.5, 0, -0, ints [1,2], [12]
  });
});

describe('shape helpers', () => {
  it('broadcastShapes is numpy broadcasting and names the op on mismatch', () => {
    expect(broadcastShapes('Op', [2, 1, 4], [3, 1])).toEqual([2, 3, 4]);
    expect(broadcastShapes('Op', [], [5])).toEqual([5]);
    expect(broadcastShapes('Op', [1], [])).toEqual([1]);
    expect(() => broadcastShapes('Op', [2, 3], [3, 2])).toThrow('Op: shapes [2,3] and [3,2] do not broadcast');
  });

  it('sameShape and fmtShape', () => {
    expect(sameShape([2, 3], [2, 3])).toBe(true);
    expect(sameShape([2, 3], [3, 2])).toBe(false);
    expect(sameShape([1], [])).toBe(false);
    expect(fmtShape([2, 3])).toBe('[2, 3]');
    expect(fmtShape([])).toBe('[]');
  });
});
