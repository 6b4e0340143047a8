// Links carrying a metric on an internal activation (issue 13): the location travels and comes back exactly; a
// malformed one is refused with a message naming the field; one that does not fit the model or prompt opens and is
// named by the editor's check (resolveExperiment), never a crash.
import { deflateSync } from 'fflate';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../engine/model/config';
import { ExperimentError, resolveExperiment } from '../engine/patching/experiment';
import type { MetricSpec } from '../engine/patching/types';
import { bytesToBase64Url, decodePermalink, encodePermalink, type PermalinkState } from './permalink';

const toy = parseGPT2Config(JSON.parse(readFileSync(join(__dirname, '../../public/models/toy-induction/config.json'), 'utf8')), 'toy-induction');

const state = (metric: MetricSpec): PermalinkState => ({
  model: { kind: 'builtin', id: 'toy-induction' },
  experiment: {
    pairs: [{ clean: ' cat dog bird cat dog', corrupted: ' cat dog bird fish dog', answer: ' bird', wrong: ' fish' }],
    metric,
    direction: 'denoising',
    options: { freezeLayerNorm: false, freezeAttention: false },
    prependBos: true,
  },
  view: { tab: 'heads', family: 'head_out_all_pos', normalised: false },
});

const craft = (value: unknown) => `#v1.${bytesToBase64Url(deflateSync(new TextEncoder().encode(JSON.stringify(value))))}`;
const errorOf = (metric: unknown) => {
  const r = decodePermalink(craft({ ...state({ name: 'logit_diff' }), experiment: { ...state({ name: 'logit_diff' }).experiment, metric } }));
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.error;
};

describe('links with internal metrics', () => {
  it('round-trip every internal metric with its location', () => {
    const metrics: MetricSpec[] = [
      { name: 'attn', site: { layer: 1, head: 0, query: 5, key: 3 } },
      { name: 'prefix', site: { layer: 1, head: 2 } },
      { name: 'neuron', site: { layer: 0, pos: 4, neuron: 255 } },
      { name: 'dla', site: { layer: 1, head: 3 } },
    ];
    for (const metric of metrics) {
      const s = state(metric);
      expect(decodePermalink(encodePermalink(s))).toEqual({ ok: true, state: s });
    }
  });

  it('refuse an unknown metric, a missing or extra location field, and a location on a logit metric, naming the field', () => {
    expect(errorOf({ name: 'attention' })).toMatch(/^This link is damaged: experiment\.metric\.name: /);
    expect(errorOf({ name: 'attn', site: { layer: 1, head: 0, query: 5 } }))
      .toBe('This link is damaged: experiment.metric.site: the attn metric needs key (it reads layer, head, query, key)');
    expect(errorOf({ name: 'attn' })).toBe('This link is damaged: experiment.metric.site: the attn metric needs its location (layer, head, query, key)');
    expect(errorOf({ name: 'dla', site: { layer: 1, head: 0, neuron: 3 } }))
      .toBe('This link is damaged: experiment.metric.site: the dla metric does not read neuron (only layer, head)');
    expect(errorOf({ name: 'logit_diff', site: { layer: 1 } }))
      .toBe('This link is damaged: experiment.metric.site: the logit_diff metric reads the logits and takes no location');
    expect(errorOf({ name: 'neuron', site: { layer: -1, pos: 0, neuron: 0 } })).toMatch(/^This link is damaged: experiment\.metric\.site\.layer: /);
    expect(errorOf({ name: 'neuron', site: { layer: 0, pos: 1.5, neuron: 0 } })).toMatch(/^This link is damaged: experiment\.metric\.site\.pos: /);
    expect(errorOf({ name: 'prefix', site: { layer: 0, head: 0, evil: 1 } })).toMatch(/^This link is damaged: experiment\.metric\.site: /);
  });

  it('open with a location the model or prompt lacks, which the editor\'s check names', () => {
    const r = decodePermalink(encodePermalink(state({ name: 'attn', site: { layer: 7, head: 0, query: 40, key: 0 } })));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    let issues: string[] = [];
    try {
      resolveExperiment(r.state.experiment, toy);
    } catch (e) {
      expect(e).toBeInstanceOf(ExperimentError);
      issues = (e as ExperimentError).issues.map((i) => `${i.field}: ${i.message}`);
    }
    expect(issues.some((m) => /^metric: .*layer 7 is out of range; .*2 layers/.test(m))).toBe(true);
    expect(issues.some((m) => /^metric: .*query position 40 is out of range; the prompt has 6 tokens/.test(m))).toBe(true);
  });
});
