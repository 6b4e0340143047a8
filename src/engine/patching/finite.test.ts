// Non-finite results are errors that say where (issue 16).
import { describe, expect, it } from 'vitest';
import { checkFinite, firstNonFinite, NonFiniteError } from './finite';
import type { Labelled } from './types';

const grid = (values: number[], shape: number[], axes: Labelled['axes']): Labelled => ({ axes, shape, data: Float64Array.from(values) });

describe('firstNonFinite', () => {
  it('finds the first NaN or Inf in row-major order and counts them all', () => {
    // [layer 2][head 2][pos 3]
    const x = grid([0, 1, 2, 3, 4, 5, 6, 7, 8, Infinity, 10, NaN], [2, 2, 3], ['layer', 'head', 'pos']);
    expect(firstNonFinite(x)).toEqual({ index: [1, 1, 0], value: Infinity, count: 2 });
    expect(firstNonFinite(grid([0, -1e308, 5e-324], [3], ['pos']))).toBeNull();
  });
});

describe('checkFinite', () => {
  const ok = grid([0.5, -0.25], [1, 2], ['layer', 'pos']);
  it('names the metric first', () => {
    expect(() => checkFinite('attribution', { clean: NaN, corrupted: 1 }, [['resid_pre', ok]])).toThrow(/^The clean metric is NaN: /);
    expect(() => checkFinite('attribution', { clean: 1, corrupted: -Infinity }, [])).toThrow(/^The corrupted metric is -Infinity/);
  });

  it('then the family and cell where a non-finite value first appears', () => {
    const bad = grid([1, 2, 3, 4, NaN, NaN], [1, 2, 3], ['layer', 'head', 'pos']);
    let error: unknown;
    try {
      checkFinite('activation patching', { clean: 1, corrupted: 0 }, [['resid_pre', ok], ['head_out', bad]]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as Error).message).toBe(
      "The activation patching of head_out is NaN at layer 0, head 1, pos 1 (and 1 more of 6 cells): the model's activations overflow float32, or its weights are damaged.",
    );
  });

  it('passes finite results', () => {
    expect(() => checkFinite('attribution', { clean: 1, corrupted: 0 }, [['resid_pre', ok]])).not.toThrow();
  });
});
