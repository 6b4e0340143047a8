import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Labelled } from '../../engine/patching/types';
import { Scatter } from './Scatter';

const x: Labelled = { axes: ['layer', 'head'], shape: [1, 3], data: Float64Array.from([0.1, 0.5, -0.3]) };

describe('<Scatter>', () => {
  it('says "not enough points" instead of plotting fewer than two', () => {
    const y: Labelled = { ...x, data: Float64Array.from([0.1, NaN, NaN]) };
    const html = renderToStaticMarkup(createElement(Scatter, { x, y }));
    expect(html).toContain('data-testid="scatter.empty"');
    expect(html).toContain('not enough points');
    expect(html).not.toContain('scatter.plot');
  });

  it('announces the statistics and leaves the plot to the lazily loaded plotly', () => {
    const y: Labelled = { ...x, data: Float64Array.from([0.12, 0.4, -0.2]) };
    const html = renderToStaticMarkup(createElement(Scatter, { x, y }));
    expect(html).toMatch(/data-testid="scatter.title">Pearson r = [\d.]+ · Spearman ρ = 1\.000 · top-3 overlap = 1 · n = 3</);
    expect(html).toContain('data-testid="scatter.plot"');
    expect(html).toContain('Loading plot');
  });
});
