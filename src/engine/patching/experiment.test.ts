// What a user sees when an experiment cannot run, and how texts become tokens.
import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../model/config';
import { ExperimentError, resolveExperiment } from './experiment';
import { normaliser } from './index';
import type { ExperimentSpec } from './types';

const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 1, n_head: 1, n_embd: 4, n_positions: 32, vocab_size: 50257 }, 'tiny32');
const spec = (over: Partial<ExperimentSpec> = {}): ExperimentSpec => ({
  pairs: [{ clean: 'When John and Mary went to the store, John gave a bag to', corrupted: 'When John and Mary went to the store, Mary gave a bag to', answer: ' Mary', wrong: ' John' }],
  metric: { name: 'logit_diff' },
  direction: 'denoising',
  options: { freezeLayerNorm: false, freezeAttention: false },
  prependBos: true,
  ...over,
});
const issues = (s: ExperimentSpec) => {
  try {
    resolveExperiment(s, cfg);
  } catch (e) {
    if (e instanceof ExperimentError) return e.issues;
    throw e;
  }
  return [];
};

describe('resolveExperiment', () => {
  it('tokenises with BOS, single-token answers, last-position metric', () => {
    const exp = resolveExperiment(spec(), cfg);
    expect(exp.clean[0][0]).toBe(50256);
    expect(exp.nPos).toBe(15);
    expect(exp.answers).toEqual([5335]);
    expect(exp.wrongs).toEqual([1757]);
    expect(exp.positions).toEqual([14]);
    expect(exp.cleanDisplay[0][2]).toBe('·John');
  });

  it('unequal token counts: both tokenisations, token by token', () => {
    const [i] = issues(spec({ pairs: [{ ...spec().pairs[0], corrupted: 'When John and Mary went to the store, Marigold gave a bag to' }] }));
    expect(i.field).toBe('corrupted');
    expect(i.message).toContain('The clean prompt is 15 tokens and the corrupted prompt 17');
    expect(i.message).toContain('clean:     <|endoftext|> | When | ·John');
    expect(i.message).toContain('·Mar | ig | old');
  });

  it('multi-token answers, empty prompts, too long, several problems at once', () => {
    const got = issues(spec({ pairs: [{ clean: '', corrupted: 'a '.repeat(40), answer: ' Marigold', wrong: ' John' }] }));
    const msgs = got.map((i) => i.message);
    expect(msgs).toContain('The clean prompt is empty.');
    expect(msgs.some((m) => /corrupted prompt is 42 tokens; tiny32 reads at most 32/.test(m))).toBe(true);
    expect(msgs.some((m) => /answer " Marigold" is 3 tokens \(·Mar \| ig \| old\)/.test(m))).toBe(true);
    expect(got.find((i) => i.field === 'answer')?.pair).toBe(0);
  });

  it('pairs of different lengths, unknown metric, basket and position errors', () => {
    const p = spec().pairs[0];
    expect(issues(spec({ pairs: [p, { ...p, clean: 'When Tom met Sid, Tom said hi to', corrupted: 'When Tom met Sid, Sid said hi to' }] }))[0].message)
      .toMatch(/All prompts must have the same number of tokens: pair 1 has 15, pair 2 has 10/);
    expect(issues(spec({ metric: { name: 'accuracy' as never } }))[0].message).toMatch(/Unknown metric "accuracy"; choose one of logit_diff/);
    expect(issues(spec({ metric: { name: 'basket', basket: [' Mary', ' Marigold'] } })).map((i) => i.message)).toEqual([
      'Basket token " Marigold" is 3 tokens (·Mar | ig | old); the answer must be a single token.',
    ]);
    expect(issues(spec({ metric: { name: 'mean_logprob', positions: [3, 40] } }))[0].message).toBe('Positions 40 are outside the prompt (0..14).');
  });

  it('answer equal to the wrong answer is an error, not a run to zeros (issue 16)', () => {
    const got = issues(spec({ pairs: [{ ...spec().pairs[0], wrong: ' Mary' }] }));
    expect(got).toEqual([{ field: 'wrong', pair: 0, message: expect.stringMatching(/answer and the wrong answer are the same token \(·Mary\), so logit_diff is 0/) }]);
    // Other metrics ignore the wrong answer, so the same text there is no problem.
    expect(() => resolveExperiment(spec({ metric: { name: 'logprob' }, pairs: [{ ...spec().pairs[0], wrong: ' Mary' }] }), cfg)).not.toThrow();
  });

  it('identical clean and corrupted prompts run (zero and mean ablation need only one) with a warning (issue 14.6)', () => {
    const p = spec().pairs[0];
    const exp = resolveExperiment(spec({ pairs: [{ ...p, corrupted: p.clean }] }), cfg);
    expect(exp.warnings).toEqual([expect.stringMatching(/clean and corrupted prompts are identical, so every activation patch .* is 0/)]);
    expect(resolveExperiment(spec(), cfg).warnings).toEqual([]);
  });

  it('a missing wrong answer says logit_diff needs one, not "" is 0 tokens (issue 14.9)', () => {
    const got = issues(spec({ pairs: [{ ...spec().pairs[0], wrong: '' }] }));
    expect(got.map((i) => i.message)).toEqual(['The wrong answer is missing; the logit_diff metric needs one (it measures logit(answer) - logit(wrong answer)).']);
  });

  it('token ids beyond the model vocab_size are named before anything runs (issue 16)', () => {
    const small = parseGPT2Config({ model_type: 'gpt2', n_layer: 1, n_head: 1, n_embd: 4, n_positions: 32, vocab_size: 2000 }, 'small-vocab');
    let error: unknown;
    try {
      resolveExperiment(spec(), small);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExperimentError);
    const msgs = (error as ExperimentError).issues.map((i) => `${i.field}: ${i.message}`);
    expect(msgs[0]).toMatch(/^clean: The clean prompt has tokens this model cannot embed: <\|endoftext\|> \(id 50256\), When \(id 2215\), ·Mary \(id 5335\), .* and 1 more\. /);
    expect(msgs[0]).toMatch(/small-vocab has vocab_size 2000 \(token ids 0..1999\)/);
    expect(msgs.map((m) => m.split(':')[0])).toEqual(['clean', 'corrupted', 'answer']); // " John" is 1757
    // Ids below vocab_size are fine: " the" is 262.
    expect(() => resolveExperiment(spec({ prependBos: false, pairs: [{ clean: 'the the', corrupted: 'the a', answer: ' the', wrong: ' a' }] }), small)).not.toThrow();
  });

  it('metrics other than logit_diff need no wrong answer', () => {
    const exp = resolveExperiment(spec({ metric: { name: 'logprob' }, pairs: [{ ...spec().pairs[0], wrong: '' }] }), cfg);
    expect(exp.wrongs).toEqual([-1]);
  });
});

describe('normaliser', () => {
  it('divides by clean - corrupted, and warns when they are (nearly) equal', () => {
    expect(normaliser({ clean: 3, corrupted: -1 }).scale).toBe(0.25);
    const n = normaliser({ clean: 2, corrupted: 2 + 1e-9 });
    expect(n.scale).toBeNaN();
    expect(n.warning).toMatch(/nearly\) equal/);
  });
});

describe('PatchingEngine.warmup', () => {
  it('runs the attribution and patch graphs on a tiny prompt without touching later results', async () => {
    const { PatchingEngine } = await import('./index');
    const { createNodeRuntime } = await import('../runtime/node');
    const { randomWeights, tinyConfig } = await import('../../../test/reference/random-weights');
    const c = tinyConfig({ nLayers: 1, dVocab: 12 });
    const engine = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), c, randomWeights(c, 1));
    await expect(engine.warmup()).resolves.toBeUndefined();
    await engine.dispose();
  });
});
