import { describe, expect, it } from 'vitest';
import { DEFAULT_SPEC } from '../store';
import { inspectRefusal, MAX_INSPECT_PAIRS } from './inspect';

describe('inspectRefusal', () => {
  const pair = { clean: 'a', corrupted: 'b', answer: ' c', wrong: ' d' };
  it('refuses kl (no logit direction) and more pairs than one inspection reads, and accepts the rest', () => {
    expect(inspectRefusal({ ...DEFAULT_SPEC, metric: { name: 'kl' } })).toMatch(/the kl metric compares whole distributions/);
    expect(inspectRefusal({ ...DEFAULT_SPEC, pairs: Array(MAX_INSPECT_PAIRS + 1).fill(pair) })).toMatch(/up to 16 pairs at once \(this run has 17\)/);
    expect(inspectRefusal({ ...DEFAULT_SPEC, pairs: Array(MAX_INSPECT_PAIRS).fill(pair) })).toBeNull();
    for (const name of ['logit_diff', 'logprob', 'prob', 'logit', 'basket', 'mean_logprob'] as const) {
      expect(inspectRefusal({ ...DEFAULT_SPEC, metric: { name } }), name).toBeNull();
    }
  });
});
