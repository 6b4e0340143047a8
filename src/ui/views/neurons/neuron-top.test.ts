import { describe, expect, it } from 'vitest';
import { neuronTopK } from './neuron-top';

/** Sorting every entry: an independent statement of "top K by |value|, ties by flat index". */
function bySort(data: number[], shape: number[], k: number, layer: number | null, pos: number | null) {
  const [, P, N] = shape;
  return data
    .map((value, flat) => ({ value, flat, index: [Math.floor(flat / (P * N)), Math.floor(flat / N) % P, flat % N] }))
    .filter((e) => !Number.isNaN(e.value) && (layer === null || e.index[0] === layer) && (pos === null || e.index[1] === pos))
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.flat - b.flat)
    .slice(0, k)
    .map((e) => ({ index: e.index, value: e.value }));
}

describe('neuronTopK', () => {
  const shape = [3, 4, 7];
  // Deterministic values with repeats (ties), both signs and a NaN.
  const data = Array.from({ length: 84 }, (_, i) => (i === 5 ? NaN : (((i * 37) % 23) - 11) / 4));
  const l = { axes: ['layer', 'pos', 'neuron'] as const, shape, data: Float64Array.from(data) };

  it('agrees with sorting every entry, for every layer/position filter and several K', () => {
    for (const layer of [null, 0, 2]) {
      for (const pos of [null, 1, 3]) {
        for (const k of [1, 5, 20, 100]) {
          expect(neuronTopK({ ...l, axes: [...l.axes] }, { k, layer, pos }), `${layer} ${pos} ${k}`).toEqual(bySort(data, shape, k, layer, pos));
        }
      }
    }
  });

  it('ranks by magnitude, not sign, and skips NaN', () => {
    const t = neuronTopK({ axes: ['layer', 'pos', 'neuron'], shape: [1, 1, 4], data: Float64Array.from([0.5, -3, NaN, 2]) }, { k: 3 });
    expect(t.map((r) => r.index[2])).toEqual([1, 3, 0]);
    expect(t[0].value).toBe(-3);
  });

  it('refuses another layout', () => {
    expect(() => neuronTopK({ axes: ['layer', 'pos'], shape: [1, 2], data: new Float64Array(2) }, { k: 1 })).toThrow(/layer, pos, neuron/);
  });
});
