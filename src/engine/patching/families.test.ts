// The family table and what is derived from it; the numbers each family gives are checked against the float64
// reference in patching.test.ts (attribution and activation patching of every family, both directions).
import { describe, expect, it } from 'vitest';
import {
  ACTIVATIONS, FAMILIES, FAMILY_TABLE, cellSelector, familiesIn, familyEntry, familyShape, firstPosition, hookFor, isFamily, parseFamilies,
} from './families';
import { familyHookShape, hookShapesOf } from './hook-shapes';
import { tinyConfig } from '../../../test/reference/random-weights';

const cfg = tinyConfig({ nLayers: 2, nHeads: 3, dModel: 12, dHead: 4, dMlp: 20, dVocab: 30 });

describe('family table', () => {
  it('names a specific error for a family it does not have, everywhere a name enters', () => {
    expect(isFamily('pattern_dest')).toBe(true);
    expect(isFamily('toString')).toBe(false); // not fooled by Object.prototype
    expect(() => familyEntry('head_outt')).toThrow(/Unknown patch family "head_outt"; choose from resid_pre/);
    expect(() => hookFor('nope' as never, 0)).toThrow(/Unknown patch family "nope"/);
    expect(() => parseFamilies('q,bogus')).toThrow(/Unknown target "bogus"/);
    expect(() => cellSelector('head_out', [0, 1])).toThrow(/head_out cells have 3 indices \[layer, head, pos\]/);
  });

  it('every activation of the table has the rank the model gives its hook (dry run of gpt2Forward)', () => {
    const shapes = hookShapesOf(cfg, 5);
    for (const { hook, axes } of Object.values(ACTIVATIONS)) expect(shapes.get(`blocks.1.${hook}`)!.length).toBe(axes.length);
    expect(familyHookShape(cfg, 'pattern_dest', 1, 5)).toEqual([3, 5, 5]);
    expect(familyHookShape(cfg, 'pattern_dest', 1, 5, 2)).toEqual([3, 3, 5]); // queries 2.., every key
    expect(familyHookShape(cfg, 'mlp_post', 0, 5, 1)).toEqual([4, 20]);
  });

  it('derives hooks, shapes, cells and first positions (TransformerLens layouts)', () => {
    expect(hookFor('pattern_dest', 1)).toBe('blocks.1.attn.hook_pattern');
    expect(familyShape('pattern_dest', cfg, 5)).toEqual([2, 3, 5]);
    expect(familyShape('mlp_post', cfg, 5)).toEqual([2, 5, 20]);
    // pattern_dest [layer, head, query_pos]: the whole row of one head at one destination.
    const { select } = cellSelector('pattern_dest', [1, 2, 3]);
    expect(select([2, 3, 0])).toBe(true);
    expect(select([2, 3, 4])).toBe(true);
    expect(select([2, 2, 0])).toBe(false);
    expect(select([1, 3, 0])).toBe(false);
    expect(firstPosition('pattern_dest', [1, 2, 3])).toBe(3);
    expect(firstPosition('k_by_pos', [0, 1, 4])).toBe(4);
    expect(firstPosition('pattern', [0, 1])).toBe(0);
    expect(firstPosition('mlp_post', [0, 2, 7])).toBe(2);
    // head_out [layer, head, pos] reads hook_z [pos, head_index, d_head].
    const z = cellSelector('head_out', [0, 2, 4]).select;
    expect(z([4, 2, 0])).toBe(true);
    expect(z([2, 4, 0])).toBe(false);
  });

  it('gives every family a title, a description and a layer-first layout', () => {
    for (const f of FAMILIES) {
      const e = FAMILY_TABLE[f];
      expect(e.title.length, f).toBeGreaterThan(3);
      expect(e.description.length, f).toBeGreaterThan(10);
      expect(e.axes[0], f).toBe('layer');
    }
  });

  it('puts every granularity the engine computes in a browser view (issue 14 item 8), from the table alone', () => {
    expect(familiesIn('residual')).toEqual(['resid_pre', 'resid_mid', 'resid_post', 'attn_out', 'mlp_out']);
    expect(familiesIn('heads_by_pos')).toEqual(['head_out', 'q_by_pos', 'k_by_pos', 'v_by_pos']);
    expect(familiesIn('attention')).toEqual(['pattern_dest', 'pattern_by_pos']);
    expect(familiesIn('neurons')).toEqual(['mlp_post']);
    expect(FAMILIES.filter((f) => !(FAMILY_TABLE[f] as { view?: string }).view)).toEqual([]);
  });
});
