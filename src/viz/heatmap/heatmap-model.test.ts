import { describe, expect, it } from 'vitest';
import type { AxisName, Labelled } from '../../engine/patching/types';
import { divergingScale, NOT_COMPUTED_COLOUR, NOT_UPSTREAM_COLOUR } from '../colour';
import { axisLabels, heatmapLayout, heatmapModel, moveFocus, slice2d, truncateLabel } from './heatmap-model';

function labelled(axes: AxisName[], shape: number[], f: (flat: number) => number): Labelled {
  const n = shape.reduce((a, b) => a * b, 1);
  return { axes, shape, data: Float64Array.from({ length: n }, (_, i) => f(i)) };
}

describe('slice2d', () => {
  // head_out [layer=2, head=3, pos=4], value = flat index
  const l = labelled(['layer', 'head', 'pos'], [2, 3, 4], (i) => i);

  it('takes layer x pos at a fixed head', () => {
    const s = slice2d(l, 'layer', 'pos', { head: 1 });
    expect([s.nRows, s.nCols]).toEqual([2, 4]);
    expect(Array.from(s.values)).toEqual([4, 5, 6, 7, 16, 17, 18, 19]);
    expect(s.indexOf(1, 2)).toEqual([1, 1, 2]);
  });

  it('transposes when the axes are given in the other order', () => {
    const s = slice2d(l, 'pos', 'layer', { head: 0 });
    expect([s.nRows, s.nCols]).toEqual([4, 2]);
    expect(Array.from(s.values)).toEqual([0, 12, 1, 13, 2, 14, 3, 15]);
    expect(s.indexOf(3, 1)).toEqual([1, 0, 3]);
  });

  it('refuses to guess an unfixed axis or a fixed index out of range', () => {
    expect(() => slice2d(l, 'layer', 'pos')).toThrow(/'head' is neither shown nor fixed/);
    expect(() => slice2d(l, 'layer', 'pos', { head: 3 })).toThrow(/out of range/);
    expect(() => slice2d(l, 'layer', 'neuron', { head: 0 })).toThrow(/'neuron' not in/);
    expect(() => slice2d(l, 'pos', 'pos', { head: 0 })).toThrow(/both/);
  });
});

describe('heatmapModel', () => {
  const tokens = ['<|endoftext|>', '·When', '·Mary'];
  const attr = labelled(['layer', 'head', 'pos'], [2, 2, 3], (i) => (i - 6) / 10);
  const patched = labelled(['layer', 'head', 'pos'], [2, 2, 3], (i) => (i === 11 ? 0.398 : NaN));

  it('labels cells with the hook, the token and both values', () => {
    const m = heatmapModel(attr, patched, { rowAxis: 'layer', colAxis: 'pos', fixed: { head: 1 }, family: 'head_out', tokens });
    const c = m.cellAt(1, 2)!;
    expect(c.index).toEqual([1, 1, 2]);
    expect(c.value).toBeCloseTo(0.5);
    expect(c.computed).toBe(true);
    expect(c.label).toBe('blocks.1.attn.hook_z head 1 pos 2 (·Mary): attribution 0.5, activation patch 0.398');
    const d = m.cellAt(0, 0)!;
    expect(d.computed).toBe(false);
    expect(d.label).toBe('blocks.0.attn.hook_z head 1 pos 0 (<|endoftext|>): attribution -0.3, activation patch not computed');
    expect(m.rowLabels).toEqual(['L0', 'L1']);
    expect(m.colLabels).toEqual(tokens);
  });

  it('colours with a symmetric domain, or the one the caller fixes', () => {
    const m = heatmapModel(attr, undefined, { rowAxis: 'layer', colAxis: 'head', fixed: { pos: 0 } });
    // values at pos 0: -0.6, -0.3, 0, 0.3 -> domain [-0.6, 0.6]
    expect(m.scale.maxAbs).toBeCloseTo(0.6);
    expect(m.cellAt(0, 0)!.colour).toBe(divergingScale(0.6)(-0.6));
    expect(m.colLabels).toEqual(['H0', 'H1']);
    const fixed = heatmapModel(attr, undefined, { rowAxis: 'layer', colAxis: 'head', fixed: { pos: 0 }, maxAbs: 2 });
    expect(fixed.scale.maxAbs).toBe(2);
  });

  it('appends the unit and uses grey for NaN values', () => {
    const l = labelled(['layer', 'pos'], [1, 2], (i) => (i === 0 ? NaN : 1));
    const m = heatmapModel(l, undefined, { unit: 'normalised' });
    expect(m.cellAt(0, 0)!.colour).toBe(NOT_COMPUTED_COLOUR);
    expect(m.cellAt(0, 1)!.label).toBe('layer 0 pos 1: attribution 1, activation patch not computed (normalised)');
  });

  it('leaves masked cells out and finds cells by full index', () => {
    const pat = labelled(['layer', 'head', 'query_pos', 'key_pos'], [1, 1, 3, 3], (i) => i);
    const m = heatmapModel(pat, undefined, {
      rowAxis: 'query_pos', colAxis: 'key_pos', fixed: { layer: 0, head: 0 }, mask: (q, k) => k > q,
    });
    expect(m.cells.filter((c) => c === null)).toHaveLength(3);
    expect(m.cellAt(0, 1)).toBeNull();
    expect(m.find([0, 0, 2, 1])).toBe(m.cellAt(2, 1));
    expect(m.find([0, 0, 0, 1])).toBeNull(); // masked
    expect(m.find([0, 1, 2, 1])).toBeNull(); // another head: not in this slice
    expect(m.find(null)).toBeNull();
  });

  it('refuses an activation-patch array of another layout', () => {
    const other = labelled(['layer', 'pos'], [2, 3], () => 0);
    expect(() => heatmapModel(attr, other, { fixed: { pos: 0 } })).toThrow(/layout/);
  });
});

describe('moveFocus', () => {
  const at = { row: 1, col: 1 };
  it('steps with arrows and stops at edges', () => {
    expect(moveFocus(at, 'ArrowUp', 3, 3)).toEqual({ row: 0, col: 1 });
    expect(moveFocus(at, 'ArrowRight', 3, 3)).toEqual({ row: 1, col: 2 });
    expect(moveFocus({ row: 0, col: 0 }, 'ArrowLeft', 3, 3)).toEqual({ row: 0, col: 0 });
    expect(moveFocus({ row: 2, col: 2 }, 'ArrowDown', 3, 3)).toEqual({ row: 2, col: 2 });
  });

  it('Home/End within the row, Ctrl+Home/End to the grid corners, PageUp/Down in the column', () => {
    expect(moveFocus(at, 'Home', 3, 4)).toEqual({ row: 1, col: 0 });
    expect(moveFocus(at, 'End', 3, 4)).toEqual({ row: 1, col: 3 });
    expect(moveFocus(at, 'Home', 3, 4, { ctrl: true })).toEqual({ row: 0, col: 0 });
    expect(moveFocus(at, 'End', 3, 4, { ctrl: true })).toEqual({ row: 2, col: 3 });
    expect(moveFocus(at, 'PageDown', 3, 4)).toEqual({ row: 2, col: 1 });
    expect(moveFocus(at, 'PageUp', 3, 4)).toEqual({ row: 0, col: 1 });
  });

  it('skips masked cells and stays put when nothing is reachable', () => {
    const masked = (q: number, k: number) => k > q; // causal
    expect(moveFocus({ row: 1, col: 1 }, 'ArrowRight', 3, 3, { masked })).toEqual({ row: 1, col: 1 });
    expect(moveFocus({ row: 1, col: 1 }, 'ArrowUp', 3, 3, { masked })).toEqual({ row: 1, col: 1 });
    expect(moveFocus({ row: 2, col: 0 }, 'End', 3, 3, { masked })).toEqual({ row: 2, col: 2 });
    expect(moveFocus({ row: 0, col: 0 }, 'End', 3, 3, { masked })).toEqual({ row: 0, col: 0 });
    expect(moveFocus({ row: 2, col: 2 }, 'Home', 3, 3, { masked, ctrl: true })).toEqual({ row: 0, col: 0 });
  });

  it('ignores other keys', () => {
    expect(moveFocus(at, 'a', 3, 3)).toBeNull();
    expect(moveFocus(at, 'Tab', 3, 3)).toBeNull();
  });
});

describe('labels and layout', () => {
  it('uses tokens only for position axes, and given labels first', () => {
    expect(axisLabels('pos', 2, ['·a', '·b'])).toEqual(['·a', '·b']);
    expect(axisLabels('layer', 2, ['·a', '·b'])).toEqual(['L0', 'L1']);
    expect(axisLabels('head', 2, undefined, ['x'])).toEqual(['x', '1']);
  });

  it('truncates by code point, never splitting a surrogate pair', () => {
    expect(truncateLabel('·Mary', 12)).toBe('·Mary');
    expect(truncateLabel('·abcdefghijklmnop', 6)).toBe('·abcd…');
    expect(truncateLabel('😀😀😀😀', 3)).toBe('😀😀…');
  });

  it('rotates column labels that do not fit a cell and thins dense labels', () => {
    const base = { cellWidth: 22, cellHeight: 18, maxLabelChars: 12, legendHeight: 0, legendWidth: 0, titleHeight: 0 };
    const heads = heatmapLayout({ nRows: 12, nCols: 12, rowLabels: ['L10'], colLabels: ['H11'] }, base);
    expect(heads.rotateColLabels).toBe(false);
    expect(heads.gridWidth).toBe(264);
    const toks = heatmapLayout({ nRows: 12, nCols: 3, rowLabels: ['L10'], colLabels: ['·When', '·Mary', '<|endoftext|>'] }, base);
    expect(toks.rotateColLabels).toBe(true);
    expect(toks.top).toBeGreaterThan(heads.top);
    const dense = heatmapLayout({ nRows: 100, nCols: 3, rowLabels: ['1'], colLabels: ['a'] }, { ...base, cellHeight: 4 });
    expect(dense.rowLabelStride).toBe(3);
  });
});

describe('heatmapModel: cells not upstream of an internal-activation metric (issue 13)', () => {
  // head_out_all_pos [layer=3, head=2]; the metric reads blocks.1.attn.hook_pattern: layers 1 and 2 are not upstream.
  const attr = labelled(['layer', 'head'], [3, 2], (i) => [0.1, -0.4, 9, -9, NaN, 7][i]);
  const notUpstream = (index: readonly number[]) => (index[0] >= 1 ? 'blocks.1.attn.hook_pattern' : null);

  it('labels them by the metric hook, gives them no value and no patch, and a colour of their own', () => {
    const patched = labelled(['layer', 'head'], [3, 2], (i) => (i === 2 ? 5 : NaN));
    const m = heatmapModel(attr, patched, { family: 'head_out_all_pos', notUpstream });
    const c = m.cellAt(1, 0)!;
    expect(c.notUpstream).toBe('blocks.1.attn.hook_pattern');
    expect(c.label).toBe('blocks.1.attn.hook_z head 0 (all pos): not upstream of the metric (blocks.1.attn.hook_pattern)');
    expect(Number.isNaN(c.value)).toBe(true);
    expect(c.computed).toBe(false);
    expect(c.colour).toBe(NOT_UPSTREAM_COLOUR);
    expect(c.colour).not.toBe(NOT_COMPUTED_COLOUR);
    expect(c.colour).not.toBe(m.scale(0));
    expect(m.cellAt(0, 1)!.notUpstream).toBeNull();
    expect(m.cellAt(0, 1)!.label).toMatch(/attribution -0\.4, activation patch not computed$/);
    expect(m.anyNotUpstream).toBe(true);
  });

  it('keeps them out of the colour domain even when the arrays hold numbers there', () => {
    const m = heatmapModel(attr, undefined, { notUpstream });
    expect(m.scale.maxAbs).toBeCloseTo(0.4);
    expect(heatmapModel(attr, undefined, {}).scale.maxAbs).toBe(9);
    expect(heatmapModel(attr, undefined, {}).anyNotUpstream).toBe(false);
  });

  it('finds the metric\'s own cell when it is in the slice, and none otherwise', () => {
    const m = heatmapModel(attr, undefined, { notUpstream, metricCell: [1, 1] });
    expect(m.metricCell?.index).toEqual([1, 1]);
    expect(heatmapModel(attr, undefined, { metricCell: [5, 1] }).metricCell).toBeNull();
    expect(heatmapModel(attr, undefined, {}).metricCell).toBeNull();
  });
});
