import { describe, expect, it } from 'vitest';
import { DEFAULT_SPEC } from '../../state/store';
import { pairWarnings } from './pair-warnings';

const spec = (pairs: { clean: string; corrupted: string; answer: string; wrong: string }[], metric = 'logit_diff') =>
  ({ ...DEFAULT_SPEC, metric: { name: metric }, pairs }) as typeof DEFAULT_SPEC;

describe('pairWarnings', () => {
  it('warns about identical prompts and an answer equal to the wrong answer, naming the pair', () => {
    const w = pairWarnings(spec([
      { clean: 'a b c', corrupted: 'a b d', answer: ' x', wrong: ' y' },
      { clean: 'same', corrupted: 'same', answer: ' x', wrong: ' x' },
    ]));
    expect(w.map((x) => [x.pair, x.kind])).toEqual([[1, 'same-prompts'], [1, 'same-answers']]);
    expect(w[0].message).toMatch(/^Pair 2: the clean and corrupted prompts are identical/);
  });

  it('compares answers as tokens, and only for the logit difference', () => {
    expect(pairWarnings(spec([{ clean: 'a', corrupted: 'b', answer: ' x', wrong: 'x' }]))).toEqual([]);
    expect(pairWarnings(spec([{ clean: 'a', corrupted: 'b', answer: ' x', wrong: ' x' }], 'logprob'))).toEqual([]);
    expect(pairWarnings(spec([{ clean: '', corrupted: '', answer: '', wrong: '' }]))).toEqual([]);
  });
});
