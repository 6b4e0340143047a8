// Which cells of a result are not upstream of a metric on an internal activation, checked against tables written by
// hand from GPT-2's forward order (resid_pre -> q, k, v -> pattern -> z -> attn_out -> resid_mid -> mlp post ->
// mlp_out -> resid_post), not against the engine's own ranking.
import { describe, expect, it } from 'vitest';
import { FAMILIES, type Family } from '../engine/patching/families';
import { defaultSite, metricCell, metricNode, notUpstreamOf } from './metric-site';
import type { MetricSpec } from '../engine/patching/types';

/** Families that are NOT upstream at the metric's layer; every family is upstream at earlier layers, none at later. */
function expectTable(metric: MetricSpec, layer: number, blockedAtLayer: Family[], hook: string) {
  const f = notUpstreamOf(metric)!;
  for (const family of FAMILIES) {
    const rest = family === 'mlp_post' ? [0, 0] : family.startsWith('pattern_by') ? [0, 0, 0] : [0, 0];
    const at = (l: number) => f(family, [l, ...rest]);
    expect(at(layer - 1), `${family} at layer ${layer - 1}`).toBeNull();
    expect(at(layer), `${family} at layer ${layer}`).toBe(blockedAtLayer.includes(family) ? hook : null);
    expect(at(layer + 1), `${family} at layer ${layer + 1}`).toBe(hook);
  }
}

describe('notUpstreamOf', () => {
  it('is absent for metrics on the logits', () => {
    for (const name of ['logit_diff', 'logprob', 'prob', 'logit', 'basket', 'mean_logprob', 'kl'] as const) expect(notUpstreamOf({ name })).toBeNull();
  });

  it('attn: the pattern and everything after it in the block', () => {
    expectTable({ name: 'attn', site: { layer: 1, head: 0, query: 3, key: 2 } }, 1,
      ['pattern', 'pattern_dest', 'pattern_by_pos', 'head_out', 'head_out_all_pos', 'attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post'],
      'blocks.1.attn.hook_pattern');
  });

  it('prefix: the same hook as attn', () => {
    expectTable({ name: 'prefix', site: { layer: 2, head: 1 } }, 2,
      ['pattern', 'pattern_dest', 'pattern_by_pos', 'head_out', 'head_out_all_pos', 'attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post'],
      'blocks.2.attn.hook_pattern');
  });

  it('dla: the head output (z) and after; the pattern is still upstream', () => {
    expectTable({ name: 'dla', site: { layer: 1, head: 3 } }, 1,
      ['head_out', 'head_out_all_pos', 'attn_out', 'resid_mid', 'mlp_post', 'mlp_out', 'resid_post'],
      'blocks.1.attn.hook_z');
  });

  it('neuron: mlp_post and after; the whole attention layer and resid_mid are upstream', () => {
    expectTable({ name: 'neuron', site: { layer: 1, pos: 2, neuron: 7 } }, 1, ['mlp_post', 'mlp_out', 'resid_post'], 'blocks.1.mlp.hook_post');
  });

  it('is absent (not a crash) for an internal metric without its location', () => {
    expect(notUpstreamOf({ name: 'attn' })).toBeNull();
  });
});

describe('metricCell and metricNode', () => {
  const attn: MetricSpec = { name: 'attn', site: { layer: 1, head: 2, query: 5, key: 3 } };
  it('outlines the metric\'s own entry of its hook and its head in layer x head grids', () => {
    expect(metricCell(attn, 'pattern_by_pos')).toEqual([1, 2, 5, 3]);
    expect(metricCell(attn, 'pattern_dest')).toEqual([1, 2, 5]);
    expect(metricCell(attn, 'pattern')).toEqual([1, 2]);
    expect(metricCell(attn, 'head_out_all_pos')).toEqual([1, 2]);
    expect(metricCell(attn, 'q')).toEqual([1, 2]);
    expect(metricCell(attn, 'resid_pre')).toBeNull();
    expect(metricCell(attn, 'head_out')).toBeNull();
    expect(metricNode(attn)).toBe('a1.h2');
  });
  it('a neuron is marked in the neurons layout only', () => {
    const neuron: MetricSpec = { name: 'neuron', site: { layer: 0, pos: 4, neuron: 9 } };
    expect(metricCell(neuron, 'mlp_post')).toEqual([0, 4, 9]);
    expect(metricCell(neuron, 'mlp_out')).toBeNull();
    expect(metricCell(neuron, 'head_out_all_pos')).toBeNull();
    expect(metricNode(neuron)).toBeNull();
    expect(metricCell({ name: 'logit_diff' }, 'pattern')).toBeNull();
  });
});

describe('defaultSite', () => {
  const cfg = { nLayers: 2 };
  it('fills each metric\'s fields (last layer, last position, key 0) and only those', () => {
    expect(defaultSite('attn', cfg, 6)).toEqual({ layer: 1, head: 0, query: 5, key: 0 });
    expect(defaultSite('prefix', cfg, 6)).toEqual({ layer: 1, head: 0 });
    expect(defaultSite('neuron', cfg, 6)).toEqual({ layer: 1, pos: 5, neuron: 0 });
    expect(defaultSite('dla', cfg, 6)).toEqual({ layer: 1, head: 0 });
    expect(defaultSite('logit_diff', cfg, 6)).toBeUndefined();
  });
  it('keeps what the user set, even out of range, when switching metric', () => {
    expect(defaultSite('neuron', cfg, 6, { layer: 0, head: 3, query: 9, key: 1 })).toEqual({ layer: 0, pos: 5, neuron: 0 });
    expect(defaultSite('attn', cfg, 6, { layer: 7, head: 3, pos: 2 })).toEqual({ layer: 7, head: 3, query: 5, key: 0 });
  });
});
