import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Labelled } from '../../engine/patching/types';
import { Heatmap } from '../heatmap/Heatmap';
import { escapeAttribute, escapeText, serializeSvg, type NodeLike } from './serialize-svg';

// Minimal stand-ins for DOM nodes (the tests run without a DOM).
const el = (name: string, attrs: Record<string, string> = {}, ...children: NodeLike[]): NodeLike => ({
  nodeType: 1,
  nodeName: name,
  nodeValue: null,
  attributes: Object.entries(attrs).map(([n, v]) => ({ name: n, value: v })),
  childNodes: children,
});
const text = (s: string): NodeLike => ({ nodeType: 3, nodeName: '#text', nodeValue: s, childNodes: [] });

describe('serializeSvg', () => {
  it('escapes text and attributes: quotes, commas, "<", "&"', () => {
    const svg = el('svg', { width: '10' },
      el('text', { 'aria-label': 'pos 1 (·say "hi", <b>&)' }, text('·<script>alert("x")</script> & co, ltd')));
    const out = serializeSvg(svg);
    expect(out).toBe('<?xml version="1.0" encoding="UTF-8"?>\n'
      + '<svg xmlns="http://www.w3.org/2000/svg" width="10" xmlns:xlink="http://www.w3.org/1999/xlink">'
      + '<text aria-label="pos 1 (·say &quot;hi&quot;, &lt;b&gt;&amp;)">'
      + '·&lt;script&gt;alert("x")&lt;/script&gt; &amp; co, ltd</text></svg>');
  });

  it('keeps newlines and tabs in attributes as character references', () => {
    expect(escapeAttribute('a\nb\tc')).toBe('a&#10;b&#9;c');
    expect(escapeText('a\nb')).toBe('a\nb');
  });

  it('drops anything active: scripts, foreignObject, on* handlers, external or javascript: links', () => {
    const svg = el('svg', { onload: 'alert(1)' },
      el('script', {}, text('alert(1)')),
      el('foreignObject', {}, el('div', {}, text('html'))),
      el('a', { href: 'javascript:alert(1)', 'xlink:href': 'https://evil.example' }, text('link')),
      el('rect', { fill: 'url(#grad)', style: 'fill:url(https://evil.example/x)', onclick: 'x()', 'data-row': '1' }),
      el('use', { href: '#x' }));
    const out = serializeSvg(svg);
    expect(out).not.toMatch(/script|foreignObject|onload|onclick|javascript|evil|<use/);
    expect(out).toContain('<a>link</a>');
    expect(out).toContain('<rect fill="url(#grad)" data-row="1"/>');
  });

  it('skips comments and refuses invalid element or attribute names', () => {
    const svg = el('svg', { 'bad name': 'x', 'x"y': 'z' }, { nodeType: 8, nodeName: '#comment', nodeValue: '-->', childNodes: [] },
      el('g x="1"', {}));
    expect(serializeSvg(svg)).toBe('<?xml version="1.0" encoding="UTF-8"?>\n'
      + '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"></svg>');
  });

  it('never lets a token string out of its text node in a rendered heatmap', () => {
    // React's server output stands in for the live DOM: the token reaches the SVG only as escaped text/attributes.
    const data: Labelled = { axes: ['layer', 'pos'], shape: [1, 1], data: Float64Array.from([0.5]) };
    const html = renderToStaticMarkup(createElement(Heatmap, { data, options: { tokens: ['"/><script>x</script>'] } }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&quot;/&gt;&lt;script&gt;');
  });
});
