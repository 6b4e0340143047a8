import { describe, expect, it } from 'vitest';
import { dlaRows, dlaSum, dlaTarget } from './dla-rows';

describe('dlaRows', () => {
  const heads = Float64Array.from([0.5, -1.25, 2, 0.125, -0.75, 3]); // [layer 2, head 3]
  const d = {
    heads: { axes: ['layer', 'head'] as never, shape: [2, 3], data: heads },
    mlps: { axes: ['layer'] as never, shape: [2], data: Float64Array.from([-2, 1.5]) },
    embed: 0.25, attnBias: -0.0625, lnFinalBias: 0.03125, total: 0,
  };

  it('lists every component once, in model order, with TransformerLens-style names', () => {
    const rows = dlaRows(d);
    expect(rows.map((r) => r.name)).toEqual(['embed', 'L0H0', 'L0H1', 'L0H2', 'MLP0', 'L1H0', 'L1H1', 'L1H2', 'MLP1', 'b_O (all layers)', 'ln_final bias']);
    expect(rows.find((r) => r.name === 'L1H2')).toMatchObject({ kind: 'head', layer: 1, head: 2, value: 3 });
    expect(rows.find((r) => r.name === 'MLP0')!.value).toBe(-2);
  });

  it('sums to the hand total of every component', () => {
    const hand = 0.5 - 1.25 + 2 + 0.125 - 0.75 + 3 - 2 + 1.5 + 0.25 - 0.0625 + 0.03125;
    expect(dlaSum(dlaRows(d))).toBeCloseTo(hand, 12);
  });

  it('names what the components sum to', () => {
    expect(dlaTarget('logit_diff', ' Paris', ' Rome')).toBe('logit( Paris) − logit( Rome)');
    expect(dlaTarget('logprob', ' Paris', ' Rome')).toBe('logit( Paris)');
  });
});
