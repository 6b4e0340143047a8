// Corruption generators (issue 13, item 2): deterministic given a seed (regenerated and compared), aligned token
// lengths, and each edit exactly what it says.
import { describe, expect, it } from 'vitest';
import { encode, tokenString } from '../model/tokenizer';
import { abcPairs, flipPairs, inductionPairs, randomPairs, toJsonl } from './corrupt';
import { parsePairs } from './dataset';

const IOI = [
  { clean: 'When John and Mary went to the store, John gave a bag to', corrupted: 'When John and Mary went to the store, Mary gave a bag to', answer: ' Mary', wrong: ' John' },
  { clean: 'When Tom and Anna went to the park, Tom gave a ball to', corrupted: 'When Tom and Anna went to the park, Anna gave a ball to', answer: ' Anna', wrong: ' Tom' },
];

describe('corruption generators', () => {
  it('flip: each pair then its mirror (clean <-> corrupted, answer <-> wrong)', () => {
    const f = flipPairs(IOI);
    expect(f).toHaveLength(4);
    expect(f[1]).toMatchObject({ clean: IOI[0].corrupted, corrupted: IOI[0].clean, answer: ' John', wrong: ' Mary', meta: { flipped: true } });
    expect(() => flipPairs([{ ...IOI[0], wrong: '' }])).toThrow(/needs a wrong answer/);
  });

  it('abc: the subject repeat becomes a third name not in the prompt, same length; deterministic per seed', () => {
    const a = abcPairs(IOI, 3);
    expect(toJsonl(abcPairs(IOI, 3))).toBe(toJsonl(a));
    expect(toJsonl(abcPairs(IOI, 4))).not.toBe(toJsonl(a));
    a.forEach((p, i) => {
      const [c, k] = [encode(p.clean), encode(p.corrupted)];
      expect(k).toHaveLength(c.length);
      const diff = c.flatMap((t, q) => (t !== k[q] ? [q] : []));
      expect(diff).toEqual([c.lastIndexOf(encode(IOI[i].wrong)[0])]);
      const name = k[diff[0]];
      expect(c).not.toContain(name);
      expect(tokenString(name)).toMatch(/^ [A-Z][a-z]+$/);
      expect(p.meta).toMatchObject({ generator: 'abc', seed: 3, position: diff[0] });
    });
    expect(abcPairs(IOI, 1, [' Alice', ' Bob'])[0].corrupted).toMatch(/store, (Alice|Bob) gave/);
    expect(() => abcPairs([{ ...IOI[0], wrong: ' Mary' }], 1)).toThrow(/needs the subject " Mary" twice/);
  });

  it('random: exactly the chosen positions change, to whole words, same length; deterministic per seed', () => {
    const r = randomPairs(IOI, 9, [2, 4]);
    expect(toJsonl(randomPairs(IOI, 9, [2, 4]))).toBe(toJsonl(r));
    for (const p of r) {
      const [c, k] = [encode(p.clean), encode(p.corrupted)];
      expect(k).toHaveLength(c.length);
      expect(c.flatMap((t, q) => (t !== k[q] ? [q] : [])).every((q) => q === 2 || q === 4)).toBe(true);
      expect([2, 4].some((q) => c[q] !== k[q])).toBe(true);
    }
    const w = randomPairs(IOI, 9, [3], [' apple', ' river']);
    for (const p of w) expect([' apple', ' river']).toContain(tokenString(encode(p.corrupted)[3]));
    expect(() => randomPairs(IOI, 1, [99])).toThrow(/positions 99 are outside/);
  });

  it.each(['BB', 'AB', 'BA', 'BC'] as const)('induction %s: A A\' vs the variant, same length, answer = A\'s last token', (variant) => {
    const L = 6;
    const pairs = inductionPairs(5, L, 11, variant);
    expect(toJsonl(inductionPairs(5, L, 11, variant))).toBe(toJsonl(pairs));
    for (const p of pairs) {
      const [c, k] = [encode(p.clean), encode(p.corrupted)];
      expect(c).toHaveLength(2 * L - 1);
      expect(k).toHaveLength(2 * L - 1);
      const A = c.slice(0, L);
      expect(c.slice(L)).toEqual(A.slice(0, -1)); // clean repeats A
      expect(encode(p.answer)).toEqual([A[L - 1]]);
      const [first, second] = [k.slice(0, L), k.slice(L)];
      if (variant === 'AB') expect(first).toEqual(A);
      if (variant === 'BA') expect(second).toEqual(A.slice(0, -1));
      if (variant === 'BB') expect(second).toEqual(first.slice(0, -1));
      if (variant !== 'AB') expect(first).not.toEqual(A);
      expect(p.wrong).not.toBe(p.answer);
    }
  });

  it('the JSONL is the pairs format: it parses back to the same pairs, meta included', () => {
    const pairs = abcPairs(IOI, 3);
    expect(parsePairs(toJsonl(pairs), 'jsonl')).toEqual(pairs.map((p, i) => ({ ...p, line: i + 1 })));
  });
});
