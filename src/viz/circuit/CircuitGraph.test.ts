// Static render of the circuit graph with a metric on an internal activation (issue 13): nodes that are not upstream
// of it are drawn apart and named so; the metric's own node is marked.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { CircuitGraph } from './CircuitGraph';
import { rankedEdges, withoutNotUpstream, type CircuitData } from './circuit-model';

// 2 layers x 1 head: senders input, a0.h0, m0, a1.h0, m1; receivers a0.h0<q|k|v>, m0, a1.h0<q|k|v>, m1, logits.
const senders = ['input', 'a0.h0', 'm0', 'a1.h0', 'm1'];
const receivers = ['a0.h0<q>', 'a0.h0<k>', 'a0.h0<v>', 'm0', 'a1.h0<q>', 'a1.h0<k>', 'a1.h0<v>', 'm1', 'logits'];
const upstream = [1, 1, 1, 2, 3, 3, 3, 4, 5];
const scores = Float64Array.from({ length: senders.length * receivers.length }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
const data: CircuitData = { senders, receivers, upstream, scores };

describe('<CircuitGraph> with a metric on blocks.1.attn.hook_pattern', () => {
  // Layer 1's head output and MLP, and the logits, come after the metric's hook.
  const blockedHook = (hook: string) => /^blocks\.1\.(attn\.hook_result|hook_mlp_in|hook_mlp_out)$/.test(hook) || hook.startsWith('ln_final');
  const nodeBlocked = (node: string) => (node === 'a1.h0' || node === 'm1' || node === 'logits' ? 'blocks.1.attn.hook_pattern' : null);

  it('draws no edge into a node after the metric, greys those nodes and names why', () => {
    const masked = withoutNotUpstream(data, blockedHook).data;
    const ranked = rankedEdges(masked);
    expect(ranked.every((e) => e.to !== 'm1' && e.to !== 'logits')).toBe(true);
    const html = renderToStaticMarkup(createElement(CircuitGraph, {
      data: masked, ranked, options: { n: 100, notUpstream: nodeBlocked, metricNode: 'a1.h0' },
    }));
    expect((html.match(/data-not-upstream="true"/g) ?? []).length).toBe(3);
    expect(html).toContain('aria-label="node m1: not upstream of the metric (blocks.1.attn.hook_pattern)"');
    expect(html).toContain('data-metric-node="true"');
    expect(html).toContain('(the metric is read here)');
    expect(html).toContain('data-testid="circuit.legend.notUpstream"');
    expect(html).not.toContain('data-edge="m0-&gt;m1"');
    expect(html).toContain('data-edge="m0-&gt;a1.h0&lt;q&gt;"');
  });

  it('says nothing of it for a metric on the logits', () => {
    const html = renderToStaticMarkup(createElement(CircuitGraph, { data, ranked: rankedEdges(data), options: { n: 100 } }));
    expect(html).not.toContain('not upstream');
    expect(html).toContain('data-edge="m0-&gt;m1"');
  });
});
