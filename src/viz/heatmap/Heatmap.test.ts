// Static render of the component (no DOM in these tests): the markup the browser gets, its test ids and ARIA.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Labelled } from '../../engine/patching/types';
import { Heatmap, defaults } from './Heatmap';

const tokens = ['<|endoftext|>', '·When', '·<script>alert("x")</script>'];
const attr: Labelled = { axes: ['layer', 'pos'], shape: [2, 3], data: Float64Array.from([0.1, -0.2, 0.412, 0, 0.3, -0.5]) };
const patched: Labelled = { axes: ['layer', 'pos'], shape: [2, 3], data: Float64Array.from([NaN, NaN, 0.398, NaN, NaN, NaN]) };

const render = (props: Parameters<typeof Heatmap>[0]) => renderToStaticMarkup(createElement(Heatmap, props));
const count = (html: string, re: RegExp) => (html.match(re) ?? []).length;

describe('<Heatmap>', () => {
  it('renders one focusable grid cell per value with row/col data attributes', () => {
    const html = render({ data: attr, patched, options: { tokens, family: 'resid_pre' } });
    expect(count(html, /data-testid="heatmap.cell"/g)).toBe(6);
    expect(html).toContain('role="grid"');
    expect(count(html, /role="gridcell"/g)).toBe(6);
    expect(html).toMatch(/data-row="1" data-col="2"/);
    // Roving tab stop: exactly one cell in the tab order.
    expect(count(html, /tabindex="0"/g)).toBe(1);
    expect(count(html, /tabindex="-1"/g)).toBe(5);
  });

  it('names each cell with its target and values', () => {
    const html = render({ data: attr, patched, options: { tokens, family: 'resid_pre', unit: 'logit diff' } });
    expect(html).toContain('aria-label="blocks.1.hook_resid_pre pos 1 (·When): attribution 0.3, activation patch not computed (logit diff)"');
    expect(html).toContain('data-computed="true"');
  });

  it('escapes token strings: a <script> token is text, never markup', () => {
    const html = render({ data: attr, patched, options: { tokens, family: 'resid_pre' } });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });

  it('marks computed cells with a dot and outlines the selected cell, which takes the tab stop', () => {
    const html = render({ data: attr, patched, selected: [1, 2], options: { legend: false } });
    expect(count(html, /<circle/g)).toBe(1);
    expect(html).toContain('class="pw-selected-ring"');
    expect(html).toMatch(/tabindex="0"[^>]*data-row="1" data-col="2"/);
    expect(html).toMatch(/aria-selected="true"[^>]*data-row="1" data-col="2"/);
  });

  it('draws a legend with the unit inside the svg, so exports carry it', () => {
    const html = render({ data: attr, options: { unit: 'normalised' } });
    expect(html).toContain('attribution (normalised)');
    expect(html).toContain('linearGradient');
    expect(defaults.legend).toBe(true);
  });

  it('leaves masked cells out entirely', () => {
    const pat: Labelled = { axes: ['query_pos', 'key_pos'], shape: [3, 3], data: new Float64Array(9).fill(0.1) };
    const html = render({ data: pat, options: { mask: (q, k) => k > q } });
    expect(count(html, /data-testid="heatmap.cell"/g)).toBe(6);
  });
});

describe('<Heatmap> with cells not upstream of the metric (issue 13)', () => {
  const notUpstream = (index: readonly number[]) => (index[0] >= 1 ? 'blocks.1.hook_resid_pre' : null);

  it('draws them flat grey (not hatched), says why in their names, and adds the key to the legend', () => {
    const html = render({ data: attr, patched, options: { tokens, family: 'resid_pre', notUpstream } });
    expect(count(html, /data-not-upstream="true"/g)).toBe(3);
    expect(html).toContain('aria-label="blocks.1.hook_resid_pre pos 0 (&lt;|endoftext|&gt;): not upstream of the metric (blocks.1.hook_resid_pre)"');
    expect(html).toContain('data-testid="legend.notUpstream"');
    expect(html).toContain('not upstream of the metric</text>');
    // Row 1's cells (NaN from the engine) are flat grey, not hatched: the "not computed" key is not needed for them.
    expect(count(html, /data-not-upstream="true"[^>]*fill="#8e8e94"/g)).toBe(3);
    expect(html).not.toContain('not computed</text>');
  });

  it('has no not-upstream key without such cells, and outlines the metric\'s own cell', () => {
    const html = render({ data: attr, patched, options: { metricCell: [0, 1] } });
    expect(html).not.toContain('legend.notUpstream');
    expect(count(html, /data-metric-cell="true"/g)).toBe(1);
    expect(html).toContain('class="pw-metric-ring"');
  });
});
