import { describe, expect, it } from 'vitest';
import { defaultAxisLabels, maxAbs, ravel, strides, unravel } from './labelled';
import { describeTarget } from './target';

describe('index arithmetic', () => {
  it('ravel and unravel are inverse, row-major', () => {
    const shape = [2, 3, 4];
    expect(strides(shape)).toEqual([12, 4, 1]);
    for (let f = 0; f < 24; f++) expect(ravel(shape, unravel(shape, f))).toBe(f);
    expect(ravel(shape, [1, 2, 3])).toBe(23);
  });

  it('ravel refuses out-of-range or wrong-rank indices', () => {
    expect(() => ravel([2, 3], [2, 0])).toThrow(/out of range/);
    expect(() => ravel([2, 3], [0])).toThrow(/rank/);
    expect(() => ravel([2, 3], [0, 1.5])).toThrow(/out of range/);
  });

  it('labels layers L0.., heads H0.., positions by index', () => {
    expect(defaultAxisLabels('layer', 3)).toEqual(['L0', 'L1', 'L2']);
    expect(defaultAxisLabels('head', 2)).toEqual(['H0', 'H1']);
    expect(defaultAxisLabels('pos', 2)).toEqual(['0', '1']);
  });

  it('maxAbs ignores NaN and infinities', () => {
    expect(maxAbs([NaN, -2, 1, -Infinity])).toBe(2);
    expect(maxAbs([])).toBe(0);
  });
});

describe('describeTarget', () => {
  const tokens = ['<|endoftext|>', '·When', '·Mary', '·and'];
  it('names a target with its TransformerLens hook and the token at pos', () => {
    expect(describeTarget(['layer', 'head', 'pos'], [3, 5, 2], { family: 'head_out', tokens }))
      .toBe('blocks.3.attn.hook_z head 5 pos 2 (·Mary)');
    expect(describeTarget(['layer', 'pos'], [0, 1], { family: 'resid_pre', tokens }))
      .toBe('blocks.0.hook_resid_pre pos 1 (·When)');
    expect(describeTarget(['layer', 'head'], [9, 9], { family: 'head_out_all_pos' }))
      .toBe('blocks.9.attn.hook_z head 9 (all pos)');
    expect(describeTarget(['layer', 'head', 'query_pos', 'key_pos'], [5, 5, 3, 1], { family: 'pattern_by_pos', tokens }))
      .toBe('blocks.5.attn.hook_pattern head 5 query_pos 3 (·and) key_pos 1 (·When)');
    expect(describeTarget(['layer', 'pos', 'neuron'], [0, 1, 42], { family: 'mlp_post' }))
      .toBe('blocks.0.mlp.hook_post pos 1 neuron 42');
  });

  it('falls back to axis names without a family', () => {
    expect(describeTarget(['layer', 'pos'], [3, 7])).toBe('layer 3 pos 7');
  });
});
