import { describe, expect, it } from 'vitest';
import {
  BOS_TOKEN,
  VOCAB_SIZE,
  decode,
  displayToken,
  encode,
  singleToken,
  tokenString,
  tokenize,
} from './tokenizer';

// GPT-2 ids from its encoder.json and the TransformerLens IOI demos, known independently of gpt-tokenizer.
const GOLDEN: [string, number[]][] = [
  ['Hello world', [15496, 995]],
  [' Mary', [5335]],
  [' John', [1757]],
  ['<|endoftext|>', [50256]],
  ['\n', [198]],
  ['\n\n', [628]],
  [' ', [220]],
  [
    'When John and Mary went to the store, John gave the bag to',
    [2215, 1757, 290, 5335, 1816, 284, 262, 3650, 11, 1757, 2921, 262, 6131, 284],
  ],
];

const TRICKY = [
  '',
  'a  b   c    d',
  '   leading and trailing   ',
  ' ',
  'tabs\tand\t\ttabs',
  'lines\n\nand\r\nmore\n',
  'café naïve résumé é',
  '日本語のテキスト',
  'emoji 🙂 and 👩‍👩‍👧 and 🇯🇵',
  '1234567 3.14159 -42 1e10',
  "don't I'll we've they're it's 's 'S DON'T",
  'MiXeD CaSe, punctuation!?... (brackets) [x] {y} <z>',
  'code: if (x == 1) { return y; } // comment',
  '\uFEFFa byte-order mark first',
  'a literal middle dot · and ␣ and ⏎',
  '\u0000\u0001 control \u007f characters',
];

describe('encode', () => {
  it.each(GOLDEN)('%j has the known GPT-2 ids', (text, ids) => {
    expect(encode(text)).toEqual(ids);
  });

  it('adds BOS (50256) only when asked, as TransformerLens to_tokens does by default', () => {
    expect(BOS_TOKEN).toBe(50256);
    expect(encode(' Mary', { prependBos: true })).toEqual([50256, 5335]);
    expect(encode('', { prependBos: true })).toEqual([50256]);
    expect(encode('')).toEqual([]);
  });

  it('encodes <|endoftext|> as the special token anywhere in the text', () => {
    expect(encode('Hello world<|endoftext|> Mary')).toEqual([15496, 995, 50256, 5335]);
    expect(encode('<|endoftext|><|endoftext|>')).toEqual([50256, 50256]);
    const text = 'first doc.<|endoftext|>\n second 🙂 doc<|endoftext|>';
    expect(decode(encode(text))).toBe(text);
  });

  it('only produces ids inside the vocabulary', () => {
    expect(VOCAB_SIZE).toBe(50257);
    for (const text of TRICKY) for (const id of encode(text)) expect(id >= 0 && id < VOCAB_SIZE).toBe(true);
  });
});

describe('decode', () => {
  it.each(TRICKY)('round-trips %j', (text) => {
    expect(decode(encode(text))).toBe(text);
  });

  it('is stateless: a partial character does not leak into the next call', () => {
    const [first, second] = encode('🙂');
    expect(decode([first])).toBe('\uFFFD');
    expect(decode([second])).not.toContain('🙂');
    expect(decode([first, second])).toBe('🙂');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => decode([VOCAB_SIZE])).toThrow(RangeError);
    expect(() => decode([-1])).toThrow(RangeError);
    expect(() => tokenString(1.5)).toThrow(RangeError);
  });
});

describe('tokenString and displayToken', () => {
  it('keeps the raw text of a token', () => {
    expect(tokenString(5335)).toBe(' Mary');
    expect(tokenString(198)).toBe('\n');
    expect(tokenString(50256)).toBe('<|endoftext|>');
  });

  it('shows whitespace visibly', () => {
    expect(displayToken(5335)).toBe('·Mary');
    expect(displayToken(220)).toBe('·');
    expect(displayToken(198)).toBe('⏎');
    expect(displayToken(628)).toBe('⏎⏎');
    expect(displayToken(encode('\t')[0])).toBe('⇥');
    expect(displayToken(50256)).toBe('<|endoftext|>');
  });

  it('shows partial UTF-8 tokens as byte escapes and whole characters as themselves', () => {
    // 🙂 is F0 9F 99 82, split by GPT-2 into [F0 9F] [99 82].
    const [first, second] = encode('🙂');
    expect(displayToken(first)).toBe('<0xF0><0x9F>');
    expect(displayToken(second)).toBe('<0x99><0x82>');
    expect(tokenString(first)).toBe('\uFFFD');
    expect(encode('é').map(displayToken)).toEqual(['é']);
    expect(displayToken(encode('\u0001')[0])).toBe('<0x01>');
  });

  it('tokenize pairs ids with chip labels', () => {
    expect(tokenize('Hello world\n')).toEqual({ ids: [15496, 995, 198], display: ['Hello', '·world', '⏎'] });
    expect(tokenize(' Mary', { prependBos: true }).display).toEqual(['<|endoftext|>', '·Mary']);
  });
});

describe('singleToken', () => {
  it('accepts a one-token answer', () => {
    expect(singleToken(' Mary')).toEqual({ ok: true, id: 5335 });
    expect(singleToken(' John')).toEqual({ ok: true, id: 1757 });
  });

  it('names the pieces of a multi-token answer', () => {
    const r = singleToken(' Marigold');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.ids).toHaveLength(3);
    expect(r.display).toEqual(['·Mar', 'ig', 'old']);
    expect(r.message).toBe('" Marigold" is 3 tokens (·Mar | ig | old); the answer must be a single token');
  });

  it('suggests the leading space when that makes one token', () => {
    const r = singleToken('Tower');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toBe(
      '"Tower" is 2 tokens (T | ower); the answer must be a single token; " Tower", with a leading space, is one',
    );
  });

  it('rejects an empty answer', () => {
    const r = singleToken('');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe('"" is 0 tokens; the answer must be a single token');
  });
});
