// The estimator in permalinks (issue 12): it round-trips, older links without it still open, and a bad one is
// refused with a message naming the field.
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { bytesToBase64Url, decodePermalink, encodePermalink, type PermalinkState } from './permalink';
import { estimatorKey, estimatorLabel, parseEstimatorKey } from './results';

const base: PermalinkState = {
  model: { kind: 'builtin', id: 'toy-ioi' },
  experiment: {
    pairs: [{ clean: 'When Mary and John went to the store, John gave the drink to', corrupted: 'When Mary and John went to the store, Mary gave the drink to', answer: ' Mary', wrong: ' John' }],
    metric: { name: 'logit_diff' },
    direction: 'denoising',
    options: { freezeLayerNorm: false, freezeAttention: false },
    prependBos: true,
  },
  view: { tab: 'heads', family: 'q', normalised: false },
};
const craft = (v: unknown) => `#v1.${bytesToBase64Url(deflateSync(new TextEncoder().encode(JSON.stringify(v))))}`;

describe('estimator in the permalink', () => {
  it('round-trips every estimator, with steps for integrated gradients', () => {
    for (const estimator of [{ method: 'atp-star', steps: 1 }, { method: 'qk-fix', steps: 1 }, { method: 'ig-layer', steps: 16 }] as const) {
      const r = decodePermalink(encodePermalink({ ...base, estimator }));
      expect(r.ok && r.state.estimator).toEqual(estimator);
    }
  });

  it('opens a link made before estimators existed (no estimator = plain AtP)', () => {
    const r = decodePermalink(craft(base));
    expect(r.ok).toBe(true);
    expect(r.ok && r.state.estimator).toBeUndefined();
  });

  it('refuses an unknown estimator, steps out of range, steps on an estimator without steps, extra keys', () => {
    const err = (estimator: unknown) => {
      const r = decodePermalink(craft({ ...base, estimator }));
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.error;
    };
    expect(err({ method: 'magic', steps: 1 })).toMatch(/estimator\.method: must be one of atp, qk-fix, graddrop, atp-star, ig-inputs, ig-layer/);
    expect(err({ method: 'ig-inputs', steps: 0 })).toMatch(/estimator\.steps/);
    expect(err({ method: 'ig-inputs', steps: 1000 })).toMatch(/estimator\.steps/);
    expect(err({ method: 'ig-inputs', steps: 2.5 })).toMatch(/estimator\.steps/);
    expect(err({ method: 'atp-star', steps: 4 })).toMatch(/estimator\.steps: steps must be 1 for an estimator that takes no steps/);
    expect(err({ method: 'atp', steps: 1, extra: '<script>' })).toMatch(/estimator/);
    expect(() => encodePermalink({ ...base, estimator: { method: 'graddrop', steps: 3 } })).toThrow(/steps must be 1/);
  });
});

describe('estimator keys and labels', () => {
  it('keys carry steps only for integrated gradients, and parse back', () => {
    expect(estimatorKey('atp-star')).toBe('atp-star');
    expect(estimatorKey('ig-inputs', 8)).toBe('ig-inputs:8');
    expect(parseEstimatorKey('ig-inputs:8')).toEqual({ method: 'ig-inputs', steps: 8 });
    expect(parseEstimatorKey('qk-fix')).toEqual({ method: 'qk-fix', steps: 1 });
    expect(estimatorLabel('ig-layer', 1)).toBe('IG (layer), 1 step');
    expect(estimatorLabel('ig-layer', 16)).toBe('IG (layer), 16 steps');
    expect(estimatorLabel('atp-star')).toBe('AtP*');
  });
});
