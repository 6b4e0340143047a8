import { describe, expect, it } from 'vitest';
import { cellValues, cellValuesName, computedCount } from './cell-values';

const L = (data: number[]) => ({ axes: ['layer', 'pos'] as ['layer', 'pos'], shape: [2, 2], data: Float64Array.from(data) });

describe('cellValues', () => {
  const estimate = L([1, -2, 0.5, 3]);
  const exact = L([0.8, NaN, 0.25, NaN]);

  it('estimate mode returns the estimate unchanged', () => {
    expect(cellValues(estimate, exact, 'estimate')).toBe(estimate);
  });
  it('exact mode: the activation patch where computed, NaN elsewhere (never 0)', () => {
    expect(Array.from(cellValues(estimate, exact, 'exact').data)).toEqual([0.8, NaN, 0.25, NaN]);
  });
  it('difference mode: estimate - exact where computed', () => {
    const d = Array.from(cellValues(estimate, exact, 'difference').data);
    expect(d[0]).toBeCloseTo(0.2, 15);
    expect(d[2]).toBeCloseTo(0.25, 15);
    expect(Number.isNaN(d[1]) && Number.isNaN(d[3])).toBe(true);
  });
  it('with no patches at all, every exact cell is NaN', () => {
    expect(Array.from(cellValues(estimate, undefined, 'exact').data).every(Number.isNaN)).toBe(true);
  });
  it('refuses a patch layout that differs from the estimate', () => {
    const other = { axes: ['layer', 'head'] as ['layer', 'head'], shape: [2, 2], data: new Float64Array(4) };
    expect(() => cellValues(estimate, other, 'exact')).toThrow(/layout/);
  });
  it('counts computed entries and names the values', () => {
    expect(computedCount(exact)).toBe(2);
    expect(computedCount(undefined)).toBe(0);
    expect(cellValuesName('exact', 'attribution')).toBe('activation patch (exact)');
    expect(cellValuesName('difference', 'attribution')).toBe('attribution − exact');
    expect(cellValuesName('estimate', 'AtP* estimate')).toBe('AtP* estimate');
  });
});
