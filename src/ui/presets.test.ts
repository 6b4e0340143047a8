// Presets are teaching material: they must be exactly the published prompts and must run as they are.
import { describe, expect, it } from 'vitest';
import { GPT2_SMALL_CONFIG, TINY_GPT2_CONFIG } from '../engine/model/checkpoint';
import { resolveExperiment } from '../engine/patching/experiment';
import { readFileSync } from 'node:fs';
import { IOI_CONFIG } from '../engine/train/toy';
import { CIRCUIT_PRESETS, ioiPairs, presetModel, PRESETS, repeatedPair } from './presets';

describe('presets', () => {
  it('IOI is the TransformerLens 8-pair set: names swapped between clean and corrupted, answer = indirect object', () => {
    const pairs = ioiPairs();
    expect(pairs).toHaveLength(8);
    expect(pairs[0]).toEqual({
      clean: 'When John and Mary went to the shops, John gave the bag to',
      corrupted: 'When John and Mary went to the shops, Mary gave the bag to',
      answer: ' Mary',
      wrong: ' John',
    });
    expect(pairs[1]).toEqual({
      clean: 'When John and Mary went to the shops, Mary gave the bag to',
      corrupted: 'When John and Mary went to the shops, John gave the bag to',
      answer: ' John',
      wrong: ' Mary',
    });
    expect(pairs[7].clean).toBe('After Martin and Amy went to the park, Martin gave a drink to');
    expect(pairs[7].answer).toBe(' Amy');
    // Each corrupted prompt is its neighbour's clean prompt (TransformerLens: corrupted_prompts = swapped pairs).
    pairs.forEach((p, i) => expect(p.corrupted).toBe(pairs[i ^ 1].clean));
  });

  it.each(PRESETS.map((p) => [p.id, p] as const))('%s resolves with no issues (equal token counts, single-token answers)', (_id, p) => {
    const cfg = p.kind === 'toy' ? TINY_GPT2_CONFIG : GPT2_SMALL_CONFIG;
    const exp = resolveExperiment(p.spec, cfg);
    expect(exp.clean.every((c, i) => c.length === exp.corrupted[i].length)).toBe(true);
  });

  it('IOI prompts are 15 tokens with BOS, as in TransformerLens', () => {
    const exp = resolveExperiment(PRESETS.find((p) => p.id === 'ioi')!.spec, GPT2_SMALL_CONFIG);
    expect(exp.nPos).toBe(15);
  });

  const vocabFile = 'public/models/toy-induction/vocab_subset.json';
  it('the toy preset uses only words from the toy model\'s training vocabulary', () => {
    const subset = new Set(JSON.parse(readFileSync(vocabFile, 'utf8')) as number[]);
    const exp = resolveExperiment(PRESETS.find((p) => p.id === 'toy-induction')!.spec, TINY_GPT2_CONFIG);
    for (const ids of [exp.clean[0].slice(1), exp.corrupted[0].slice(1), exp.answers, exp.wrongs]) {
      for (const id of ids) expect(subset.has(id)).toBe(true);
    }
  });

  it('the toy IOI preset uses only the IOI model\'s training tokens, in pairs of one length', () => {
    const subset = new Set(JSON.parse(readFileSync('public/models/toy-ioi/vocab_subset.json', 'utf8')) as number[]);
    const exp = resolveExperiment(PRESETS.find((p) => p.id === 'toy-ioi')!.spec, IOI_CONFIG);
    expect(exp.clean).toHaveLength(8);
    for (const ids of [...exp.clean.map((c) => c.slice(1)), ...exp.corrupted.map((c) => c.slice(1)), exp.answers, exp.wrongs]) {
      for (const id of ids) expect(subset.has(id)).toBe(true);
    }
    // Clean and corrupted differ only at the repeated name: the clean one repeats the wrong answer (the subject),
    // the corrupted one the answer.
    exp.clean.forEach((c, i) => {
      const at = c.findIndex((t, j) => t !== exp.corrupted[i][j]);
      expect(c.filter((t, j) => t !== exp.corrupted[i][j])).toHaveLength(1);
      expect([c[at], exp.corrupted[i][at]]).toEqual([exp.wrongs[i], exp.answers[i]]);
    });
  });

  it('repeatedPair: the answer follows the cue\'s first occurrence, and only the corrupted first half differs', () => {
    const p = repeatedPair(['a', 'b', 'c', 'd'], 1, 'x');
    expect(p).toEqual({ clean: ' a b c d a b', corrupted: ' a b x d a b', answer: ' c', wrong: ' x' });
  });

  it('every preset names the built-in model it is made for (issue 14 item 6: presets bring their model)', () => {
    expect(presetModel(PRESETS.find((p) => p.id === 'ioi')!).id).toBe('gpt2');
    expect(presetModel(PRESETS.find((p) => p.id === 'toy-ioi')!).id).toBe('toy-ioi');
    expect(presetModel(PRESETS.find((p) => p.id === 'toy-induction')!).id).toBe('toy-induction');
    for (const p of [...PRESETS, ...CIRCUIT_PRESETS]) expect(presetModel(p).presets, p.id).toBe(p.kind);
  });
});
