import { describe, expect, it } from 'vitest';
import type { Labelled } from '../../engine/patching/types';
import { exportLayout, plotlyEscape, scatterModel } from './scatter-model';

const x: Labelled = { axes: ['layer', 'head'], shape: [2, 2], data: Float64Array.from([0.1, 0.5, -0.3, 0.9]) };
const y: Labelled = { axes: ['layer', 'head'], shape: [2, 2], data: Float64Array.from([0.12, NaN, -0.25, 0.7]) };

describe('scatterModel', () => {
  it('plots only computed targets, named in hook vocabulary, carrying their flat index', () => {
    const m = scatterModel(x, y, { family: 'head_out_all_pos' });
    expect(m.points.map((p) => p.flat)).toEqual([0, 2, 3]);
    expect(m.points[2]).toMatchObject({ index: [1, 1], x: 0.9, y: 0.7, name: 'blocks.1.attn.hook_z head 1 (all pos)' });
    const trace = m.data[0] as { customdata: number[]; text: string[] };
    expect(trace.customdata).toEqual([0, 2, 3]);
    expect(trace.text[0]).toBe('blocks.0.attn.hook_z head 0 (all pos)');
  });

  it('titles the plot with Pearson, Spearman and top-k overlap', () => {
    const m = scatterModel(x, y, { k: 2 });
    expect(m.enough).toBe(true);
    expect(m.title).toMatch(/^Pearson r = 0\.\d{3} · Spearman ρ = 1\.000 · top-2 overlap = 1 · n = 3$/);
    // Two lines, so the statistics are not clipped on a 410 px plot.
    expect((m.layout.title as { text: string }).text).toBe(m.title.replace(' · top-', '<br>top-'));
  });

  it('draws the y = x line over a range shared by both axes', () => {
    const m = scatterModel(x, y);
    const line = m.layout.shapes![0];
    expect(line.x0).toBe(line.y0);
    expect(line.x1).toBe(line.y1);
    expect(m.layout.xaxis!.range).toEqual(m.layout.yaxis!.range);
    expect(line.x0).toBeLessThan(-0.3);
    expect(line.x1).toBeGreaterThan(0.9);
  });

  it('says "not enough points" instead of showing NaN statistics', () => {
    const one: Labelled = { ...y, data: Float64Array.from([NaN, NaN, NaN, 0.7]) };
    const m = scatterModel(x, one);
    expect(m.enough).toBe(false);
    expect(m.stats.pearson).toBeNaN();
    expect(m.title).toMatch(/^not enough points/);
    const flat: Labelled = { ...y, data: Float64Array.from([1, 1, 1, 1]) };
    expect(scatterModel(x, flat).title).toMatch(/^not enough points: a series is constant/);
  });

  it('adds a ring for the selected target', () => {
    expect(scatterModel(x, y, {}, [1, 1]).data).toHaveLength(2);
    expect(scatterModel(x, y, {}, [0, 1]).data).toHaveLength(1); // not computed: nothing to ring
  });

  it('escapes user strings before plotly sees its pseudo-HTML', () => {
    expect(plotlyEscape('<b>&amp;</b>')).toBe('&lt;b&gt;&amp;amp;&lt;/b&gt;');
    const m = scatterModel(x, y, { family: 'resid_pre', tokens: ['<a href="javascript:x">'], unit: '<i>' });
    const lx: Labelled = { axes: ['layer', 'pos'], shape: [1, 1], data: Float64Array.from([1]) };
    const m2 = scatterModel(lx, lx, { family: 'resid_pre', tokens: ['<a href="javascript:x">'], unit: '<i>' });
    expect((m2.data[0] as { text: string[] }).text[0]).toBe('blocks.0.hook_resid_pre pos 0 (&lt;a href="javascript:x"&gt;)');
    expect((m.layout.xaxis!.title as { text: string }).text).toBe('attribution (&lt;i&gt;)');
  });

  it('refuses mismatched layouts', () => {
    expect(() => scatterModel(x, { ...y, axes: ['layer', 'pos'] })).toThrow(/layouts differ/);
  });
});

describe('exportLayout (issue 14: exported scatters carry the title block)', () => {
  const layout = { title: { text: 'Pearson r = 0.900 · Spearman ρ = 0.800', font: { size: 12 } }, margin: { l: 64, r: 16, t: 72, b: 56 }, height: 320 };
  it('puts the title block above the statistics, escaped, and grows the margin and the image by its lines', () => {
    const lines = ['Residual stream (resid_pre)', 'model toy · metric logit_diff', 'clean: "<b>A B"'];
    const out = exportLayout(layout, lines, 410, 320);
    const text = (out.layout.title as { text: string }).text;
    expect(text.split('<br>')).toEqual(['<b>Residual stream (resid_pre)</b>', 'model toy · metric logit_diff', 'clean: "&lt;b&gt;A B"', 'Pearson r = 0.900 · Spearman ρ = 0.800']);
    expect(out.layout.margin).toEqual({ l: 64, r: 16, t: 72 + 3 * 16, b: 56 });
    expect(out.height).toBe(320 + 48);
    expect(out.width).toBe(410);
    expect(layout.margin.t).toBe(72); // the on-screen layout is not changed
  });
  it('widens the image for a long line so nothing is clipped', () => {
    const long = 'x'.repeat(110);
    const out = exportLayout(layout, [long], 410, 320);
    expect(out.width).toBeGreaterThanOrEqual(110 * 6.6);
    expect(out.layout.width).toBe(out.width);
  });
});
