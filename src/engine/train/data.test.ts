import { describe, expect, it } from 'vitest';
import { BOS_TOKEN, decode, encode } from '../model/tokenizer';
import { halfLengths, repeatedSequences, sequenceLength, toyVocabSubset, trainBatches } from './data';
import { asciiPlot, windowMeans } from './curve';

describe('toyVocabSubset', () => {
  const subset = toyVocabSubset();
  it('is a few hundred distinct single tokens, each a space and a lowercase word', () => {
    expect(subset.length).toBeGreaterThanOrEqual(200);
    expect(subset.length).toBeLessThanOrEqual(500);
    expect(new Set(subset).size).toBe(subset.length);
    for (const id of subset) {
      const text = decode([id]);
      expect(text).toMatch(/^ [a-z]+$/);
      expect(encode(text)).toEqual([id]);
    }
  });
  it('tokenizes a typed prompt of its words one token per word', () => {
    const ids = encode(' red dog blue cat green tree red dog blue');
    expect(ids.length).toBe(9);
    expect(ids.every((id) => subset.includes(id))).toBe(true);
  });
});

describe('repeated sequences', () => {
  const subset = toyVocabSubset();
  it('are BOS + P + A + A with P and A drawn from the subset, the same for the same seed', () => {
    const a = repeatedSequences(subset, 7);
    const b = repeatedSequences(subset, 7);
    for (const [half, prefix] of [[3, 0], [10, 5], [31, 0], [4, 23]]) {
      const s = a(half, prefix);
      expect(s.tokens).toEqual(b(half, prefix).tokens);
      expect(s.tokens.length).toBe(2 * half + prefix + 1);
      expect(s.tokens[0]).toBe(BOS_TOKEN);
      const start = 1 + prefix;
      expect(s.tokens.slice(start, start + half)).toEqual(s.tokens.slice(start + half));
      expect(s.tokens.slice(1).every((t) => subset.includes(t))).toBe(true);
    }
    expect(repeatedSequences(subset, 8)(10).tokens).not.toEqual(repeatedSequences(subset, 7)(10).tokens);
  });

  it('fill training batches whose rows, targets and weights line up with the tokens', () => {
    const spec = { batch: 5, minHalf: 4, maxHalf: 12, maxPrefix: 6 };
    expect(halfLengths(spec)).toEqual([4, 6, 8, 10, 12]);
    const pos = sequenceLength(spec);
    expect(pos).toBe(31);
    const next = trainBatches(subset, spec, 3);
    const prefixes = new Set<number>();
    for (let k = 0; k < 20; k++) {
      const b = next();
      expect(b.pos).toBe(pos);
      expect(b.tokens.length).toBe(5 * pos);
      expect(b.rows.length).toBe(5 * (pos - 1));
      b.rows.forEach((r, i) => expect(b.tokens[r + 1]).toBe(b.targets[i]));
      const w = b.weights!;
      expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
      const halves: number[] = [];
      for (let s = 0; s < 5; s++) {
        // A sequence's real targets are its first P + 2L rows (weight > 0); the rest predict padding (weight 0).
        const real = b.rows.filter((r, i) => Math.floor(r / pos) === s && w[i] > 0).map((r) => r - s * pos);
        expect(real).toEqual(real.map((_, t) => t));
        const seq = b.tokens.slice(s * pos, s * pos + real.length + 1);
        // After the sequence, only padding; every real target weighs the same.
        expect(b.tokens.slice(s * pos + real.length + 1, (s + 1) * pos).every((t) => t === BOS_TOKEN)).toBe(true);
        expect(w.filter((x) => x > 0).every((x) => x === w.find((y) => y > 0))).toBe(true);
        // Find L and P: the last 2L tokens are A + A.
        const L = [4, 6, 8, 10, 12].find((l) => {
          const p = real.length - 2 * l;
          return p >= 0 && p <= 6 && seq.slice(1 + p, 1 + p + l).join() === seq.slice(1 + p + l).join();
        })!;
        expect(L).toBeDefined();
        halves.push(L);
        prefixes.add(real.length - 2 * L);
      }
      expect(halves.sort((x, y) => x - y)).toEqual([4, 6, 8, 10, 12]);
    }
    expect(prefixes.size).toBeGreaterThan(4); // prefix lengths vary over 0..6
    expect(trainBatches(subset, spec, 3)().tokens).toEqual(trainBatches(subset, spec, 3)().tokens);
  });
});

describe('loss curve helpers', () => {
  it('windowMeans averages consecutive windows, the last taking the remainder', () => {
    expect(windowMeans([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([1.5, 3.5, 6]);
    expect(() => windowMeans([1], 2)).toThrow();
  });
  it('asciiPlot puts the highest point on the top row', () => {
    const lines = asciiPlot([3, 2, 1], 3, 3);
    expect(lines[0]).toMatch(/\|\* {2}$/);
    expect(lines[2]).toMatch(/\| {2}\*$/);
  });
});
