// Token chips mark tokens a subset-trained toy model never saw, and name them.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { encode, tokenize } from '../../engine/model/tokenizer';
import { parseVocabSubset } from '../../state/models';
import { TokenChips, untrainedTokens } from './TokenChips';

const trained = new Set(encode(' cat dog bird fish'));

describe('untrained tokens', () => {
  it('are the tokens outside the training vocabulary, once each, BOS never', () => {
    const tok = (text: string) => tokenize(text, { prependBos: false });
    expect(untrainedTokens([tok(' cat hello dog hello'), tok(' fish'), tok('<|endoftext|> bird')], trained)).toEqual(['·hello']);
    expect(untrainedTokens([tok(' cat dog')], trained)).toEqual([]);
  });

  it('are marked in the chips and named below them; nothing is said for a model without a subset', () => {
    const html = renderToStaticMarkup(createElement(TokenChips, { clean: ' cat hello', corrupted: ' cat dog', prependBos: true, answers: [' bird', ' lion'], trained }));
    expect(html.match(/pw-chip-untrained"/g)).toHaveLength(1);
    expect(html).toContain('not in this model&#x27;s training vocabulary');
    expect(html).toContain('never saw &quot;·hello&quot;, &quot;·lion&quot;: its');
    const plain = renderToStaticMarkup(createElement(TokenChips, { clean: ' cat hello', corrupted: ' cat dog', prependBos: true }));
    expect(plain).not.toContain('untrained');
  });
});

describe('parseVocabSubset', () => {
  it('accepts a list of distinct token ids in range and nothing else', () => {
    expect(parseVocabSubset([3, 1, 2], 10)).toEqual([3, 1, 2]);
    for (const bad of [[], [1, 1], [1, 10], [-1], [1.5], ['1'], { 0: 1 }, null]) expect(parseVocabSubset(bad, 10)).toBeNull();
  });
});
