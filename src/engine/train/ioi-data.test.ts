import { describe, expect, it } from 'vitest';
import { BOS_TOKEN, decode, encode } from '../model/tokenizer';
import { IOI_NAMES, IOI_OBJECTS, IOI_PLACES, IOI_TEMPLATES, ioiBatches, ioiMaxLength, ioiSentence, ioiSentences, ioiVocabSubset } from './ioi-data';

describe('IOI data', () => {
  it('names, places and objects are single GPT-2 tokens with their leading space', () => {
    for (const w of [...IOI_NAMES, ...IOI_PLACES, ...IOI_OBJECTS]) expect(encode(` ${w}`)).toHaveLength(1);
    expect(new Set(IOI_NAMES).size).toBe(IOI_NAMES.length);
  });

  it('builds ABBA and BABA sentences whose answer is the name that is not repeated', () => {
    const abba = ioiSentence(5, 'Mary', 'John', true, 'store', 'drink');
    expect(abba.prompt).toBe('When Mary and John went to the store, John gave the drink to');
    const baba = ioiSentence(5, 'Mary', 'John', false, 'store', 'drink');
    expect(baba.prompt).toBe('When John and Mary went to the store, John gave the drink to');
    for (const s of [abba, baba]) {
      expect(s.tokens[0]).toBe(BOS_TOKEN);
      expect(decode(s.tokens.slice(1))).toBe(`${s.prompt} Mary`);
    }
  });

  it('streams sentences from every template, both orders, seeded', () => {
    const next = ioiSentences(3);
    const again = ioiSentences(3);
    const seen = new Set<string>();
    let abba = 0;
    for (let i = 0; i < 300; i++) {
      const s = next();
      expect(again().tokens).toEqual(s.tokens);
      expect(s.io).not.toBe(s.s);
      const first = s.prompt.indexOf(s.io.trim());
      const subj = s.prompt.indexOf(s.s.trim());
      if (first < subj) abba++;
      seen.add(IOI_TEMPLATES.findIndex((t) => new RegExp('^' + t.replace(/[.,]/g, '\\$&').replace(/\{\w+\}/g, '\\w+') + '$').test(s.prompt)).toString());
      expect(s.tokens.length).toBeLessThanOrEqual(ioiMaxLength());
      expect(s.tokens.slice(1).every((t) => ioiVocabSubset().includes(t))).toBe(true);
    }
    expect([...seen].sort()).toEqual(IOI_TEMPLATES.map((_, i) => String(i)).sort());
    expect(abba).toBeGreaterThan(100);
    expect(abba).toBeLessThan(200);
  });

  it('lays out batches: rows predict the next token, every real target weighs the same, padding nothing', () => {
    const pos = ioiMaxLength();
    const b = ioiBatches(4, pos, 7)();
    expect(b.tokens).toHaveLength(4 * pos);
    b.rows.forEach((r, i) => expect(b.tokens[r + 1]).toBe(b.targets[i]));
    const w = b.weights!;
    expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
    for (let s = 0; s < 4; s++) {
      const seq = b.tokens.slice(s * pos, (s + 1) * pos);
      const len = seq.slice(1).indexOf(BOS_TOKEN) + 1 || pos;
      const mine = w.slice(s * (pos - 1), (s + 1) * (pos - 1));
      expect(mine.slice(len - 1).every((x) => x === 0)).toBe(true);
      expect(mine.slice(0, len - 1).every((x) => x === w[0] && x > 0)).toBe(true);
    }
  });
});
