// The internal metrics' text syntax, their hooks and the not-upstream rule; their validation in resolveExperiment.
import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../model/config';
import { formatMetric, metricHook, notUpstream, parseMetric } from './metric-spec';
import { ExperimentError, prefixKeys, resolveExperiment } from './experiment';
import type { ExperimentSpec, MetricSpec } from './types';

describe('parseMetric / formatMetric', () => {
  it.each([
    ['attn:1.4:10:9', { name: 'attn', site: { layer: 1, head: 4, query: 10, key: 9 } }],
    ['prefix:5.1', { name: 'prefix', site: { layer: 5, head: 1 } }],
    ['neuron:2.7.300', { name: 'neuron', site: { layer: 2, pos: 7, neuron: 300 } }],
    ['dla:9.9', { name: 'dla', site: { layer: 9, head: 9 } }],
    ['logit_diff', { name: 'logit_diff' }],
    ['kl', { name: 'kl' }],
  ])('%s round-trips', (text, spec) => {
    expect(parseMetric(text)).toEqual(spec);
    expect(formatMetric(parseMetric(text))).toBe(text);
  });

  it.each([
    ['accuracy', /^Unknown metric "accuracy"; choose one of logit_diff, .*kl, attn:LAYER\.HEAD:QUERY:KEY, prefix:LAYER\.HEAD, neuron:LAYER\.POS\.NEURON, dla:LAYER\.HEAD\.$/],
    ['attn', /^Metric "attn": attn needs a location; expected attn:LAYER\.HEAD:QUERY:KEY, e\.g\. attn:1\.4:10:9\.$/],
    ['attn:1.4', /^Metric "attn:1\.4": attn takes 4 numbers \(layer, head, query position, key position\), not 2;/],
    ['attn:1.4:10:9:2', /attn takes 4 numbers .*not 5;/],
    ['attn:1.x:10:9', /^Metric "attn:1\.x:10:9": the head "x" is not a whole number; expected attn:LAYER\.HEAD:QUERY:KEY/],
    ['attn:1..10:9', /the head is missing; expected/],
    ['attn:1:4:10:9', /^Metric "attn:1:4:10:9": write "\." between the layer and the head, not ":"; expected attn:LAYER\.HEAD:QUERY:KEY/],
    ['neuron:2.-1.3', /^Metric "neuron:2\.-1\.3": the position "-1" is not a whole number; expected neuron:LAYER\.POS\.NEURON/],
    ['neuron:2.7:300', /write "\." between the position and the neuron, not ":"; expected neuron:LAYER\.POS\.NEURON/],
    ['dla:9', /dla takes 2 numbers \(layer, head\), not 1; expected dla:LAYER\.HEAD, e\.g\. dla:9\.9\./],
    ['logit_diff:3', /^Metric "logit_diff:3": logit_diff takes no location after ":"; write logit_diff\.$/],
  ])('%s is refused with a specific message', (text, message) => {
    expect(() => parseMetric(text)).toThrow(message);
  });
});

describe('metricHook and notUpstream', () => {
  const attn = parseMetric('attn:1.0:3:2');
  const neuron = parseMetric('neuron:1.3.5');
  const dla = parseMetric('dla:1.0');

  it('hooks follow TransformerLens', () => {
    expect(metricHook(attn)).toBe('blocks.1.attn.hook_pattern');
    expect(metricHook(parseMetric('prefix:0.1'))).toBe('blocks.0.attn.hook_pattern');
    expect(metricHook(neuron)).toBe('blocks.1.mlp.hook_post');
    expect(metricHook(dla)).toBe('blocks.1.attn.hook_z');
    expect(metricHook({ name: 'logit_diff' })).toBeNull();
  });

  // Written out by hand from gpt2.ts's block, not derived from the table under test.
  const upstreamOfPattern1 = ['hook_embed', 'hook_pos_embed', 'blocks.0.hook_resid_post', 'blocks.0.attn.hook_z', 'blocks.0.mlp.hook_post',
    'blocks.1.hook_resid_pre', 'blocks.1.ln1.hook_scale', 'blocks.1.hook_q_input', 'blocks.1.attn.hook_q', 'blocks.1.attn.hook_k',
    'blocks.1.attn.hook_v', 'blocks.1.attn.hook_attn_scores'];
  const downstreamOfPattern1 = ['blocks.1.attn.hook_pattern', 'blocks.1.attn.hook_z', 'blocks.1.attn.hook_result', 'blocks.1.hook_attn_out',
    'blocks.1.hook_resid_mid', 'blocks.1.hook_mlp_in', 'blocks.1.ln2.hook_scale', 'blocks.1.mlp.hook_pre', 'blocks.1.mlp.hook_post',
    'blocks.1.hook_mlp_out', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_pre', 'blocks.2.attn.hook_q', 'ln_final.hook_scale'];

  it('attn: hooks before the pattern are upstream; the pattern and everything after are not', () => {
    for (const h of upstreamOfPattern1) expect(notUpstream(attn, h), h).toBe(false);
    for (const h of downstreamOfPattern1) expect(notUpstream(attn, h), h).toBe(true);
  });

  it('neuron: the MLP input side of its layer is upstream, hook_post onwards not', () => {
    for (const h of ['blocks.1.attn.hook_z', 'blocks.1.hook_resid_mid', 'blocks.1.hook_mlp_in', 'blocks.1.ln2.hook_normalized', 'blocks.1.mlp.hook_pre'])
      expect(notUpstream(neuron, h), h).toBe(false);
    for (const h of ['blocks.1.mlp.hook_post', 'blocks.1.hook_mlp_out', 'blocks.1.hook_resid_post', 'blocks.3.hook_resid_pre'])
      expect(notUpstream(neuron, h), h).toBe(true);
  });

  it('dla: the pattern is upstream, z and result are not', () => {
    expect(notUpstream(dla, 'blocks.1.attn.hook_pattern')).toBe(false);
    expect(notUpstream(dla, 'blocks.1.attn.hook_z')).toBe(true);
    expect(notUpstream(dla, 'blocks.1.attn.hook_result')).toBe(true);
  });

  it('logit metrics: everything is upstream; an unknown hook is an error', () => {
    expect(notUpstream({ name: 'logit_diff' }, 'blocks.5.hook_resid_post')).toBe(false);
    expect(() => notUpstream(attn, 'blocks.1.attn.hook_nonsense')).toThrow('Unknown hook "blocks.1.attn.hook_nonsense"');
  });
});

describe('resolveExperiment with internal metrics', () => {
  const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 4, n_embd: 8, n_positions: 32, vocab_size: 50257 }, 'tiny');
  const pair = { clean: 'When John and Mary went to the store, John gave a bag to', corrupted: 'When John and Mary went to the store, Mary gave a bag to', answer: '', wrong: '' };
  const spec = (metric: MetricSpec, over: Partial<ExperimentSpec['pairs'][0]> = {}): ExperimentSpec => ({
    pairs: [{ ...pair, ...over }], metric, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true,
  });
  const messages = (s: ExperimentSpec) => {
    try {
      resolveExperiment(s, cfg);
    } catch (e) {
      if (e instanceof ExperimentError) return e.issues.map((i) => `${i.field}: ${i.message}`);
      throw e;
    }
    return [];
  };

  it('attn and neuron need no answer; their metric rows are the query / the position', () => {
    expect(resolveExperiment(spec(parseMetric('attn:1.3:10:2')), cfg).positions).toEqual([10]);
    expect(resolveExperiment(spec(parseMetric('neuron:0.4.31')), cfg).positions).toEqual([4]);
  });

  it('dla needs an answer; the wrong answer is optional', () => {
    expect(messages(spec(parseMetric('dla:1.0')))).toEqual(['answer: The answer is missing; every metric needs one.']);
    const alone = resolveExperiment(spec(parseMetric('dla:1.0'), { answer: ' Mary' }), cfg);
    expect([alone.answers, alone.wrongs, alone.positions]).toEqual([[5335], [-1], [14]]);
    expect(resolveExperiment(spec(parseMetric('dla:1.0'), { answer: ' Mary', wrong: ' John' }), cfg).wrongs).toEqual([1757]);
  });

  it('out-of-range sites name the part and the range', () => {
    expect(messages(spec(parseMetric('attn:2.4:15:16')))).toEqual([
      'metric: Metric attn:2.4:15:16: layer 2 is out of range; tiny has 2 layers (0..1).',
      'metric: Metric attn:2.4:15:16: head 4 is out of range; tiny has 4 heads per layer (0..3).',
      'metric: Metric attn:2.4:15:16: query position 15 is out of range; the prompt has 15 tokens (positions 0..14).',
      'metric: Metric attn:2.4:15:16: key position 16 is out of range; the prompt has 15 tokens (positions 0..14).',
    ]);
    expect(messages(spec(parseMetric('attn:1.0:3:4')))).toEqual([
      'metric: Metric attn:1.0:3:4: the key position 4 is after the query position 3; a query attends only to keys at or before it (key <= query).',
    ]);
    expect(messages(spec(parseMetric('neuron:1.2.32')))).toEqual(['metric: Metric neuron:1.2.32: neuron 32 is out of range; tiny has 32 MLP neurons per layer (0..31).']);
    expect(messages(spec({ name: 'attn' }))).toEqual(['metric: The attn metric needs its location (layer, head, query, key).']);
  });

  it('prefix: every position is a metric row; a prompt that repeats nothing is refused', () => {
    // " John" repeats: its second copy (position 10) attends to " and" (position 3), the token after the first.
    expect(resolveExperiment(spec(parseMetric('prefix:0.0')), cfg).positions).toEqual([...Array(15).keys()]);
    expect(messages(spec(parseMetric('prefix:0.0'), { clean: 'One two three', corrupted: 'One two four' }))).toEqual([
      'metric: The clean prompt repeats no token, so prefix:0.0 has no query to average over (a query i needs a key j <= i whose previous token equals token i, as in repeated random tokens).',
    ]);
  });

  it('prefixKeys: the token after each earlier copy of the query token', () => {
    // tokens: A B C A B   -> query 3 (A) attends to key 1 (B after A at 0); query 4 (B) to key 2 (C after B at 1)
    expect(prefixKeys([7, 8, 9, 7, 8])).toEqual([[3, 1], [4, 2]]);
    // A A A: query 1 -> key 1 (j-1 = 0 is A); query 2 -> keys 1 and 2
    expect(prefixKeys([5, 5, 5])).toEqual([[1, 1], [2, 1], [2, 2]]);
  });
});
