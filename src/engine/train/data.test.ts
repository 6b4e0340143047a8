import { describe, expect, it } from 'vitest';
import { BOS_TOKEN, decode, encode } from '../model/tokenizer';
import { halfLengths, repeatedSequences, rowsPerBatch, toyVocabSubset, trainBatches } from './data';
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
  it('are BOS + A + A with A drawn from the subset, the same for the same seed', () => {
    const a = repeatedSequences(subset, 7);
    const b = repeatedSequences(subset, 7);
    for (const half of [3, 10, 31]) {
      const s = a(half);
      expect(s.tokens).toEqual(b(half).tokens);
      expect(s.tokens.length).toBe(2 * half + 1);
      expect(s.tokens[0]).toBe(BOS_TOKEN);
      expect(s.tokens.slice(1, half + 1)).toEqual(s.tokens.slice(half + 1));
      expect(s.tokens.slice(1).every((t) => subset.includes(t))).toBe(true);
    }
    expect(repeatedSequences(subset, 8)(10).tokens).not.toEqual(repeatedSequences(subset, 7)(10).tokens);
  });

  it('fill training batches whose rows and targets line up with the tokens', () => {
    const spec = { batch: 5, minHalf: 4, maxHalf: 12 };
    expect(halfLengths(spec)).toEqual([4, 6, 8, 10, 12]);
    const next = trainBatches(subset, spec, 3);
    for (let k = 0; k < 3; k++) {
      const b = next();
      expect(b.pos).toBe(25);
      expect(b.tokens.length).toBe(5 * 25);
      expect(b.rows.length).toBe(rowsPerBatch(spec));
      b.rows.forEach((r, i) => expect(b.tokens[r + 1]).toBe(b.targets[i]));
      const halves = Array.from({ length: 5 }, (_, s) => b.rows.filter((r) => Math.floor(r / 25) === s).length / 2);
      expect([...halves].sort((x, y) => x - y)).toEqual([4, 6, 8, 10, 12]);
    }
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
