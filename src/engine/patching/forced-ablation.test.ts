// Exact ablations with multi-token answers (issue 13, items 3 and 4): zero and resample ablation of the clean run,
// scored by teacher forcing, per pair, against the float64 reference (test/reference/teacher-forced-f64.ts); mean
// ablation is refused with a message (no reference value exists past the prompt).
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { encode } from '../model/tokenizer';
import { ActivationPatcher } from './activation';
import { ablationSweepPairs, checkMeanAblation, referenceLength, resampleIndex } from './ablation';
import { parsePairs, resolvePairs, runBatches, type PairLabelled } from './dataset';
import { refCell } from '../../../test/reference/cells-f64';
import { refForcedAblation, refForcedMetric, type ForcedPair } from '../../../test/reference/teacher-forced-f64';
import { randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
// Digits alternating with punctuation are one GPT-2 token per character, all below id 30.
const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-forced-ablation' });
const weights = randomWeights(cfg, 17);
const lines = [
  '{"clean": "1!2#3%4", "corrupted": "1!2#5%4", "answer": "5(6", "wrong": "(6"}',
  '{"clean": "7&8(9%1", "corrupted": "7&8(0%1", "answer_tokens": [3, 4], "wrong_tokens": [5]}',
];
const pairs: ForcedPair[] = [
  { clean: encode('1!2#3%4'), corrupted: encode('1!2#5%4'), answer: encode('5(6'), wrong: encode('(6') },
  { clean: encode('7&8(9%1'), corrupted: encode('7&8(0%1'), answer: [3, 4], wrong: [5] },
];
// Reference prompts of the pairs' prompt length (7 tokens), as a --reference file's clean prompts.
const reference = [encode('2!3#4%5'), encode('9&1(2%3'), encode('4!4#4%4')];
const cells = Array.from({ length: cfg.nLayers * cfg.nHeads }, (_, i) => [Math.floor(i / cfg.nHeads), i % cfg.nHeads]);
const cellAt = (index: number[]) => (len: number) => refCell('head_out_all_pos', cfg, len, index);

describe('ablation with multi-token answers (teacher forcing)', () => {
  const exps = resolvePairs(parsePairs(lines.join('\n'), 'jsonl', 'forced.jsonl'),
    { metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: false }, cfg, 'forced.jsonl', { teacherForcing: true });
  const patcher = new ActivationPatcher(rt, cfg);

  it.each(['zero', 'resample'] as const)('%s ablation of the clean run, per pair, equals the reference', async (mode) => {
    await rt.setWeights(weights);
    expect(exps.every((e) => e.forced && referenceLength(e) === 7)).toBe(true);
    const seed = 3;
    const res = await runBatches(exps, ['head_out_all_pos'], async (exp, pairIndices) => {
      const r = await ablationSweepPairs((e, f, o) => patcher.sweepPairs(e, f, o), exp, 'head_out_all_pos', { mode, ablated: 'clean', reference, seed, pairIndices });
      return { metric: { clean: r.run, corrupted: r.run }, values: { head_out_all_pos: r.values as PairLabelled } };
    });
    // The reference draws from its own statement of the rule: pair i takes reference[resampleIndex(seed, i, 3)].
    const draws = pairs.map((_, i) => resampleIndex(seed, i, reference.length));
    const want = pairs.flatMap((p, i) => cells.map((c) => refForcedAblation(cfg, weights, p, cellAt(c), mode === 'zero' ? null : reference[draws[i]])));
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(1e-3);
    expectClose(`${mode} per pair`, res.perPair.head_out_all_pos!.data, want, 1e-4, 1e-6);
    expectClose('the ablated (clean) run\'s metric per pair', res.metricPerPair.clean, pairs.map((p) => refForcedMetric(cfg, weights, p.clean, p.answer, p.wrong).total), 1e-4);
  });

  it('mean ablation is refused with a message that says why', () => {
    expect(() => checkMeanAblation(exps[0])).toThrow(/Mean ablation is not available with multi-token answers.*Use --mode zero or resample/);
  });
});
