import { expect, it } from 'vitest';
import { named, topK } from './labelled';

it('orders by |value|, breaks ties by position, skips NaN, and unravels indices row-major', () => {
  const x = { axes: ['layer', 'pos', 'neuron'] as const, shape: [2, 2, 3], data: Float64Array.from([0, -5, 1, 2, NaN, 5, 0, 0, -3, 4, 0, 0]) };
  const top = topK({ ...x, axes: [...x.axes] }, 4);
  expect(top).toEqual([
    { index: [0, 0, 1], value: -5 },
    { index: [0, 1, 2], value: 5 },
    { index: [1, 1, 0], value: 4 },
    { index: [1, 0, 2], value: -3 },
  ]);
  expect(named(['layer', 'pos', 'neuron'], top[2])).toEqual({ layer: 1, pos: 1, neuron: 0, value: 4 });
});
