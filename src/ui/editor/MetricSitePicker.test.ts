// The internal metric's location picker: lists bounded by the model and prompt, positions labelled with tokens,
// out-of-range values kept and marked, a neuron typed as text never lost.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { MetricSitePicker, parseNeuron, positionLabel, siteOptions } from './MetricSitePicker';

const tokens = ['<|endoftext|>', '·cat', '·dog', '·<b>'];
const cfg = { nLayers: 2, nHeads: 4, dMlp: 256 };

describe('siteOptions', () => {
  it('offers 0..n-1 and keeps a value outside, marked', () => {
    expect(siteOptions(2, 1, (i) => `L${i}`)).toEqual([{ value: 0, label: 'L0', outside: false }, { value: 1, label: 'L1', outside: false }]);
    expect(siteOptions(2, 5, (i) => `L${i}`).at(-1)).toEqual({ value: 5, label: '5 (out of range: 0–1)', outside: true });
    // Nothing known yet (no model): the value is offered as is, not marked.
    expect(siteOptions(0, 3, (i) => `L${i}`)).toEqual([{ value: 3, label: 'L3', outside: false }]);
  });
  it('labels positions with their tokens', () => {
    expect(positionLabel(tokens)(2)).toBe('2 ·dog');
    expect(positionLabel(tokens)(9)).toBe('9');
  });
});

describe('parseNeuron', () => {
  it('takes whole numbers and names anything else', () => {
    expect(parseNeuron(' 17 ', 256)).toEqual({ value: 17 });
    expect(parseNeuron('1.5', 256)).toEqual({ error: 'The neuron "1.5" is not a whole number; type its index from 0 to 255.' });
    expect(parseNeuron('', null)).toEqual({ error: 'Type the neuron\'s index.' });
  });
});

describe('<MetricSitePicker>', () => {
  const render = (props: Partial<Parameters<typeof MetricSitePicker>[0]>) => renderToStaticMarkup(createElement(MetricSitePicker, {
    name: 'attn', site: { layer: 1, head: 2, query: 3, key: 1 }, onChange: () => {}, cfg, tokens, issues: [], ...props,
  }));

  it('draws one list per field of the metric, bounded by the model and the prompt', () => {
    const html = render({});
    for (const f of ['layer', 'head', 'query', 'key']) expect(html).toContain(`data-testid="metric.site.${f}"`);
    expect(html).not.toContain('metric.site.neuron');
    expect((html.match(/<option value="\d+"[^>]*>H\d<\/option>/g) ?? []).length).toBe(4);
    expect(html).toContain('>3 ·&lt;b&gt;</option>');
    expect(html).toContain('--metric attn:1.2:3:1');
    expect(html).not.toContain('experiment.issue.metric');
  });

  it('shows the engine\'s messages beside the fields and marks a value out of range', () => {
    const html = render({ site: { layer: 1, head: 2, query: 9, key: 1 }, issues: [{ field: 'metric', message: 'Metric attn:1.2:9:1: query position 9 is out of range.' }] });
    expect(html).toContain('9 (out of range: 0–3)');
    expect(html).toContain('data-testid="experiment.issue.metric"');
    expect(html).toContain('query position 9 is out of range.');
    expect(html).toContain('aria-invalid="true"');
  });

  it('asks a neuron as a number within the model', () => {
    const html = render({ name: 'neuron', site: { layer: 0, pos: 2, neuron: 40 } });
    expect(html).toContain('data-testid="metric.site.neuron"');
    expect(html).toContain('Neuron (0–255)');
    expect(html).toContain('value="40"');
    expect(html).toContain('--metric neuron:0.2.40');
    expect(html).not.toContain('experiment.issue.metric');
  });
});
