import { describe, expect, it } from 'vitest';
import {
  agreement, averageRanks, estimatorAgreement, pairedFinite, pearson, spearman, topKByMagnitude, topKOverlap, verificationStats,
} from './stats';

describe('pearson', () => {
  it('matches a hand-computed value', () => {
    // dx = [-2,-1,0,1,2], dy = [-2,0,1,0,1]: r = 6 / sqrt(10 * 6)
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(6 / Math.sqrt(60), 14);
  });

  it('is exactly +-1 for lines and stays in [-1, 1] with rounding', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 15);
    expect(pearson([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 15);
    const x = Array.from({ length: 1000 }, (_, i) => 3.5519 + i * 1e-9);
    const r = pearson(x, x);
    expect(r).toBeLessThanOrEqual(1);
    expect(r).toBeCloseTo(1, 6);
  });

  it('is NaN for n < 2 or zero variance', () => {
    expect(pearson([], [])).toBeNaN();
    expect(pearson([1], [2])).toBeNaN();
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeNaN();
  });

  it('refuses series of different lengths', () => {
    expect(() => pearson([1, 2], [1])).toThrow(/lengths/);
  });
});

describe('spearman', () => {
  it('averages tied ranks (scipy.stats.rankdata "average")', () => {
    expect(Array.from(averageRanks([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
    expect(Array.from(averageRanks([3, 1, 3, 3]))).toEqual([3, 1, 3, 3]);
    // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505138, 14);
  });

  it('is 1 for any monotone relation', () => {
    expect(spearman([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 15);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 15);
  });

  it('is NaN for n < 2 or all ties', () => {
    expect(spearman([1], [1])).toBeNaN();
    expect(spearman([2, 2, 2], [1, 2, 3])).toBeNaN();
  });
});

describe('top-k overlap', () => {
  it('compares the k largest magnitudes, sign ignored', () => {
    const x = [5, -4, 3, 0.1, 0.2];
    const y = [-5, 0.1, 3, 4, 0.2];
    expect(topKByMagnitude(x, 2)).toEqual([0, 1]);
    expect(topKByMagnitude(y, 2)).toEqual([0, 3]);
    expect(topKOverlap(x, y, 2)).toBe(0.5);
    expect(topKOverlap(x, y, 3)).toBeCloseTo(2 / 3);
    expect(topKOverlap(x, x, 3)).toBe(1);
  });

  it('breaks ties by index and caps k at n', () => {
    expect(topKByMagnitude([1, -1, 1], 2)).toEqual([0, 1]);
    expect(topKOverlap([1, 2, 3], [3, 2, 1], 10)).toBe(1); // k -> 3: every point is in both
  });

  it('is NaN for n < 2', () => {
    expect(topKOverlap([1], [1], 10)).toBeNaN();
    expect(topKOverlap([], [], 10)).toBeNaN();
  });
});

describe('pairedFinite / agreement', () => {
  it('keeps only targets where both values exist', () => {
    const p = pairedFinite([1, 2, NaN, 4], [NaN, 2, 3, 4.5]);
    expect(p).toEqual({ x: [2, 4], y: [2, 4.5], index: [1, 3] });
  });

  it('reports n and the k used', () => {
    const a = agreement([1, 2, 3], [1, 2, 4], 10);
    expect(a.n).toBe(3);
    expect(a.k).toBe(3);
    expect(a.spearman).toBeCloseTo(1);
  });
});

describe('estimatorAgreement', () => {
  it('uses only targets with an exact patch, and compares magnitudes with |exact|', () => {
    const est = [3, 2, 1, 0.5];
    const exact = [-3, NaN, -1, -0.5];
    const signed = estimatorAgreement(est, exact, true, 2);
    expect(signed.n).toBe(3);
    expect(signed.pearson).toBeCloseTo(-1, 12);
    const unsigned = estimatorAgreement(est, exact, false, 2);
    expect(unsigned.pearson).toBeCloseTo(1, 12);
    expect(unsigned.spearman).toBeCloseTo(1, 12);
    expect(unsigned.topK).toBe(1);
  });
});

describe('verificationStats', () => {
  it('summarises the top K against the random others', () => {
    const s = verificationStats([
      { estimate: 2, exact: 1.5, top: true },
      { estimate: -1, exact: 0.5, top: true },
      { estimate: 0.1, exact: 0.2, top: false },
      { estimate: 0, exact: -0.4, top: false },
    ], true);
    expect(s.k).toBe(2);
    expect(s.meanAbsError).toBeCloseTo((0.5 + 1.5) / 2, 12);
    expect(s.signAgree).toBe(1);
    expect(s.meanAbsExactTop).toBeCloseTo(1, 12);
    expect(s.meanAbsExactRandom).toBeCloseTo(0.3, 12);
    const u = verificationStats([{ estimate: 2, exact: -1.5, top: true }], false);
    expect(u.meanAbsError).toBeCloseTo(0.5, 12);
    expect(Number.isNaN(u.signAgree)).toBe(true);
    expect(Number.isNaN(u.meanAbsExactRandom)).toBe(true);
  });
});
