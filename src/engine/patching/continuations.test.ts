// Multi-token answers by teacher forcing (issue 13): the metric, its per-token breakdown, attribution and exact
// patches, one pair and a dataset, against the independent float64 reference (test/reference/teacher-forced-f64.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { encode } from '../model/tokenizer';
import { ActivationPatcher } from './activation';
import { runAttribution } from './attribution';
import { resolveWithContinuations } from './continuations';
import { perTokenLogprobs } from './continuation-metric';
import { parsePairs, resolvePairs, runBatches, type PairLabelled } from './dataset';
import type { Family } from './families';
import type { ExperimentSpec } from './types';
import { refCell } from '../../../test/reference/cells-f64';
import { refForcedAttribution, refForcedMetric, refForcedPatch, type ForcedPair, type RefCellAt } from '../../../test/reference/teacher-forced-f64';
import { randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
// Digits alternating with punctuation are one GPT-2 token per character, all below id 30.
const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-forced' });
const weights = randomWeights(cfg, 7);
const spec = (answer: string, wrong: string, metric: 'logit_diff' | 'logprob' | 'prob' = 'logit_diff'): ExperimentSpec => ({
  pairs: [{ clean: '1!2#3%4', corrupted: '1!2#5%4', answer, wrong }],
  metric: { name: metric },
  direction: 'denoising',
  options: { freezeLayerNorm: false, freezeAttention: false },
  prependBos: false,
});
const refPair = (answer: string, wrong: string): ForcedPair => ({ clean: encode('1!2#3%4'), corrupted: encode('1!2#5%4'), answer: encode(answer), wrong: encode(wrong) });

/** resid_pre [layer, pos] and head_out_all_pos [layer, head] cells in a sequence of any length. */
const cellAt = (family: Family, index: number[]): RefCellAt => (len) => (family === 'resid_pre' && index[1] >= len ? null : refCell(family, cfg, len, index));

describe('teacher forcing: one pair (answer 3 tokens, wrong 2)', () => {
  const [answer, wrong] = ['5(6', '(6'];
  const exp = resolveWithContinuations(spec(answer, wrong), cfg);

  it('pads both continuations into one batch: 2 rows, read positions P-1 .. P+1', () => {
    expect(exp.nPairs).toBe(2);
    expect(exp.nPos).toBe(7 + 2);
    expect(exp.positions).toEqual([6, 7, 8]);
    expect(exp.forced).toEqual({ answer: [[20, 7, 21]], wrong: [[7, 21]], promptLength: 7 });
  });

  it('metric, per-token log-probs, attribution and exact patches agree with the reference', async () => {
    await rt.setWeights(weights);
    const pair = refPair(answer, wrong);
    const refClean = refForcedMetric(cfg, weights, pair.clean, pair.answer, pair.wrong);
    const refCorrupted = refForcedMetric(cfg, weights, pair.corrupted, pair.answer, pair.wrong);
    const families: Family[] = ['resid_pre', 'head_out_all_pos'];
    const att = await runAttribution(rt, cfg, exp, { families });
    expectClose('metric', [att.metric.clean, att.metric.corrupted], [refClean.total, refCorrupted.total], 1e-4);

    const [tokens] = await perTokenLogprobs(rt, cfg, exp);
    expect(tokens.answer.map((t) => t.token)).toEqual(pair.answer);
    expectClose('per-token clean', [...tokens.answer, ...tokens.wrong].map((t) => t.clean), [...refClean.answer, ...refClean.wrong], 1e-4);
    expectClose('per-token corrupted', [...tokens.answer, ...tokens.wrong].map((t) => t.corrupted), [...refCorrupted.answer, ...refCorrupted.wrong], 1e-4);

    const patcher = new ActivationPatcher(rt, cfg);
    for (const f of families) {
      const v = att.values[f]!;
      const cells = f === 'resid_pre' ? Array.from({ length: v.data.length }, (_, i) => [Math.floor(i / exp.nPos), i % exp.nPos]) : Array.from({ length: v.data.length }, (_, i) => [Math.floor(i / cfg.nHeads), i % cfg.nHeads]);
      expectClose(`attribution ${f}`, v.data, cells.map((c) => refForcedAttribution(cfg, weights, pair, cellAt(f, c))), 1e-4, 1e-6);
      const sweep = await patcher.sweep(exp, f);
      expectClose(`patch ${f}`, sweep.data, cells.map((c) => refForcedPatch(cfg, weights, pair, cellAt(f, c))), 1e-4, 1e-6);
    }
    // The last position is read by no token (the answer's last token is never fed): nothing there matters.
    expect(att.values.resid_pre!.data[exp.nPos - 1]).toBe(0);
  });

  it('logprob keeps the answer sum alone', async () => {
    await rt.setWeights(weights);
    const e = resolveWithContinuations(spec(answer, '', 'logprob'), cfg);
    const pair = refPair(answer, '');
    const att = await runAttribution(rt, cfg, e, { families: ['head_out_all_pos'] });
    expectClose('logprob', [att.metric.clean], [refForcedMetric(cfg, weights, pair.clean, pair.answer, []).total], 1e-4);
  });

  it('refuses a multi-token answer with a metric that reads one logit, and identical continuations', () => {
    expect(() => resolveWithContinuations(spec(answer, wrong, 'prob'), cfg)).toThrow(/multi-token answers are scored by teacher forcing.*logit_diff or logprob, not prob/);
    expect(() => resolveWithContinuations(spec(answer, answer), cfg)).toThrow(/same tokens/);
  });
});

describe('teacher forcing: a dataset (answer_tokens, continuations of several lengths)', () => {
  it('per-pair attribution and exact patches, folded from the rows, equal the reference pair by pair', async () => {
    await rt.setWeights(weights);
    const text = [
      '{"clean": "1!2#3%4", "corrupted": "1!2#5%4", "answer": "5(6", "wrong": "(6"}',
      '{"clean": "7&8(9", "corrupted": "7&8(0", "answer_tokens": [3, 4], "wrong_tokens": [5, 6]}',
      '{"clean": "1!2#3%4", "corrupted": "1!2#3$4", "answer": "5(6", "wrong": "(6"}',
    ].join('\n');
    const records = parsePairs(text, 'jsonl', 'forced.jsonl');
    expect(records[1]).toMatchObject({ answerTokens: [3, 4], wrongTokens: [5, 6], answer: '' });
    const exps = resolvePairs(records, { metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: false }, cfg, 'forced.jsonl', { teacherForcing: true });
    const families: Family[] = ['head_out_all_pos'];
    const att = await runBatches(exps, families, async (exp) => {
      const r = await runAttribution(rt, cfg, exp, { families, perPair: true });
      return { metric: r.pairs!.metric, values: r.pairs!.values };
    });
    const patcher = new ActivationPatcher(rt, cfg);
    const act = await runBatches(exps, families, async (exp) => {
      const r = await patcher.sweepPairs(exp, 'head_out_all_pos');
      return { metric: { clean: r.metric.source, corrupted: r.metric.base }, values: { head_out_all_pos: r.values as PairLabelled } };
    });
    const pairs: ForcedPair[] = [refPair('5(6', '(6'), { clean: encode('7&8(9'), corrupted: encode('7&8(0'), answer: [3, 4], wrong: [5, 6] }, { ...refPair('5(6', '(6'), corrupted: encode('1!2#3$4') }];
    const cells = Array.from({ length: cfg.nLayers * cfg.nHeads }, (_, i) => [Math.floor(i / cfg.nHeads), i % cfg.nHeads]);
    expect(att.perPair.head_out_all_pos!.shape).toEqual([3, cfg.nLayers, cfg.nHeads]);
    expectClose('attribution per pair', att.perPair.head_out_all_pos!.data, pairs.flatMap((p) => cells.map((c) => refForcedAttribution(cfg, weights, p, cellAt('head_out_all_pos', c)))), 1e-4, 1e-6);
    expectClose('patch per pair', act.perPair.head_out_all_pos!.data, pairs.flatMap((p) => cells.map((c) => refForcedPatch(cfg, weights, p, cellAt('head_out_all_pos', c)))), 1e-4, 1e-6);
    expectClose('clean metric per pair', att.metricPerPair.clean, pairs.map((p) => refForcedMetric(cfg, weights, p.clean, p.answer, p.wrong).total), 1e-4);
  });

  it('answer_tokens that are not token ids name the line and field', () => {
    expect(() => parsePairs('{"clean": "a", "corrupted": "b", "answer_tokens": [1, "x"]}', 'jsonl', 'p.jsonl')).toThrow(/p\.jsonl line 1, field "answer_tokens": must be a non-empty list of token ids/);
  });
});
