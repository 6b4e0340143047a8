import { describe, expect, it } from 'vitest';
import { answerVsBasket, logit, logitDiff, logProb, logSumExp, meanLogProb, prob, klDivergence } from './metrics-f64';

// logits [pos 2, d_vocab 4]; only the last row matters except for meanLogProb.
const logits = Float64Array.from([5, -5, 0, 9, /* last */ 1, 2, 3, 4]);
const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4));

describe('final-position metrics', () => {
  it('logit and logitDiff read the last position', () => {
    expect(logit(logits, 2, 4, 3)).toBe(4);
    expect(logitDiff(logits, 2, 4, 3, 0)).toBe(3);
    expect(logitDiff(logits, 2, 4, 0, 3)).toBe(-3);
  });

  it('logProb and prob are the log softmax and softmax of the last row', () => {
    expect(logSumExp([1, 2, 3, 4])).toBeCloseTo(lse, 15);
    expect(logProb(logits, 2, 4, 2)).toBeCloseTo(3 - lse, 15);
    expect(prob(logits, 2, 4, 2)).toBeCloseTo(Math.exp(3) / Math.exp(lse), 15);
    expect([0, 1, 2, 3].reduce((s, t) => s + prob(logits, 2, 4, t), 0)).toBeCloseTo(1, 15);
  });

  it('is stable for large logits', () => {
    const big = Float64Array.from([1000, 1000, 999]);
    expect(logProb(big, 1, 3, 0)).toBeCloseTo(-Math.log(2 + Math.exp(-1)), 12);
    expect(prob(big, 1, 3, 2)).toBeCloseTo(Math.exp(-1) / (2 + Math.exp(-1)), 12);
    expect(logSumExp([-Infinity, -Infinity])).toBe(-Infinity);
  });

  it('answerVsBasket = logit(answer) - logsumexp(basket)', () => {
    expect(answerVsBasket(logits, 2, 4, 1, [1])).toBe(0);
    expect(answerVsBasket(logits, 2, 4, 1, [0, 1, 2, 3])).toBeCloseTo(logProb(logits, 2, 4, 1), 15);
    expect(answerVsBasket(logits, 2, 4, 3, [0, 2])).toBeCloseTo(4 - Math.log(Math.exp(1) + Math.exp(3)), 15);
    const tie = Float64Array.from([0.5, 0.5]);
    expect(answerVsBasket(tie, 1, 2, 0, [0, 1])).toBeCloseTo(-Math.log(2), 15);
  });

  it('meanLogProb averages the log softmax of each chosen position at its target', () => {
    const first = 0 - Math.log(Math.exp(5) + Math.exp(-5) + Math.exp(0) + Math.exp(9));
    expect(meanLogProb(logits, 2, 4, [0], [2])).toBeCloseTo(first, 14);
    expect(meanLogProb(logits, 2, 4, [1], [3])).toBeCloseTo(logProb(logits, 2, 4, 3), 15);
    expect(meanLogProb(logits, 2, 4, [0, 1], [2, 3])).toBeCloseTo((first + 4 - lse) / 2, 14);
  });

  it('rejects bad shapes, tokens and positions', () => {
    expect(() => logit(logits, 3, 4, 0)).toThrow(/expected 3x4/);
    expect(() => logit(logits, 2, 4, 4)).toThrow(/token 4/);
    expect(() => meanLogProb(logits, 2, 4, [2], [0])).toThrow(/position 2/);
    expect(() => meanLogProb(logits, 2, 4, [0, 1], [0])).toThrow(/targets/);
    expect(() => answerVsBasket(logits, 2, 4, 0, [])).toThrow(/empty/);
  });

  it('klDivergence: 0 against itself, and a two-token case by hand', () => {
    expect(klDivergence(logits, logits, 2, 4)).toBeCloseTo(0, 14);
    // Two tokens: p = softmax([0, ln 3]) = (1/4, 3/4), q = softmax([0, 0]) = (1/2, 1/2).
    const kl = klDivergence(Float64Array.from([0, Math.log(3)]), Float64Array.from([0, 0]), 1, 2);
    expect(kl).toBeCloseTo(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), 14);
    expect(klDivergence(logits, logits.map((x, i) => x + (i % 3)), 2, 4)).toBeGreaterThan(0);
  });
});
