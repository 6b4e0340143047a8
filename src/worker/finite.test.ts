import { describe, expect, it } from 'vitest';
import { checkArray, checkMetric, checkPatch, NonFiniteError } from './finite';

describe('non-finite results are errors that say where', () => {
  it('names the metric', () => {
    expect(() => checkMetric({ clean: 1, corrupted: 2 })).not.toThrow();
    expect(() => checkMetric({ clean: NaN, corrupted: 2 })).toThrow('The clean metric is NaN');
    expect(() => checkMetric({ clean: 1, corrupted: -Infinity })).toThrow('The corrupted metric is -Inf');
  });

  it('names the first bad entry of an array by its axes, and counts them', () => {
    const data = new Float64Array(2 * 3);
    expect(() => checkArray('attribution of resid_pre', ['layer', 'pos'], [2, 3], data)).not.toThrow();
    data[4] = Infinity; // [1, 1]
    data[5] = NaN;
    const err = (() => { try { checkArray('attribution of resid_pre', ['layer', 'pos'], [2, 3], data); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as Error).message).toBe(
      'attribution of resid_pre has 2 of 6 values that are not finite; the first is Inf at layer 1, pos 1: '
      + 'the model produced NaN or Inf (non-finite weights in the checkpoint, or an overflow).',
    );
  });

  it('names a patched cell', () => {
    expect(() => checkPatch('head_out', [0, 1, 2], 0.5)).not.toThrow();
    expect(() => checkPatch('head_out', [0, 1, 2], NaN)).toThrow('The activation patch of head_out [0, 1, 2] is NaN');
  });
});
