// Multi-token answers by teacher forcing (issue 13, item 3). When --answer or --wrong (or a pair's answer_tokens /
// wrong_tokens) is several tokens, the metric of a prompt pair is
//   M = sum_i log p(a_i | prompt, a_<i) - sum_j log p(w_j | prompt, w_<j)
// (logit_diff; logprob keeps only the answer's sum). Each pair becomes two rows of one padded batch: the prompt
// followed by the answer's first n-1 tokens, and the prompt followed by the wrong answer's, padded to the longer
// continuation (n = max length); log p of token i is read at the position before it (prompt length - 1 + i).
// Padding sits after every position a row reads, so causal attention keeps it out of the metric, its gradient and
// every patch. Clean and corrupted rows get the same continuation tokens; patches apply to both rows of a pair, at
// prompt positions and at the continuation's positions alike (the layouts' position axis covers both).
//
// The rows' metric is 2 * (sum of the answer's log-probs) and -2 * (the wrong answer's), so the mean over all rows
// is the mean over pairs of M, and a pair's own value is the mean of its two rows (foldRows).
// Graph-free (the page parses pairs files with it); the metric's graph code is in continuation-metric.ts.
import { displayToken, encode } from '../model/tokenizer';
import type { GPT2Config } from '../model/types';
import type { Feed } from '../runtime/types';
import { ExperimentError, resolveExperiment, type Experiment, type InputIssue } from './experiment';
import type { ExperimentSpec } from './types';

/** What a teacher-forced experiment adds: per original pair, the answer's and the wrong answer's tokens. */
export interface Forced {
  answer: number[][];
  /** Empty for logprob (no wrong answer). */
  wrong: number[][];
  /** Tokens of each prompt (before the continuation); rows are longer by n - 1. */
  promptLength: number;
}

/** Token overrides of one pair (a pairs file's answer_tokens / wrong_tokens). */
export interface PairTokens {
  answer?: number[];
  wrong?: number[];
}

const FORCED_METRICS = ['logit_diff', 'logprob'];
const tokenLine = (ids: number[]) => ids.map(displayToken).join(' | ');

/** The answer and wrong-answer token lists of each pair, as teacher forcing would read them. */
function continuationTokens(spec: ExperimentSpec, overrides: PairTokens[]) {
  return spec.pairs.map((p, i) => ({
    answer: overrides[i]?.answer ?? (p.answer === '' ? [] : encode(p.answer)),
    wrong: spec.metric.name === 'logit_diff' ? (overrides[i]?.wrong ?? (p.wrong === '' ? [] : encode(p.wrong))) : [],
  }));
}

/** True when some pair's answer or wrong answer is several tokens (or given as a token list). */
export function needsForcing(spec: ExperimentSpec, overrides: PairTokens[] = []): boolean {
  if (overrides.some((o) => o?.answer || o?.wrong)) return true;
  return continuationTokens(spec, overrides).some((c) => c.answer.length > 1 || c.wrong.length > 1);
}

/**
 * resolveExperiment, or, when an answer is several tokens, the teacher-forced experiment: 2 rows per pair
 * (answer row, wrong row), positions = the continuation's read positions. Throws ExperimentError with specific
 * messages.
 */
export function resolveWithContinuations(spec: ExperimentSpec, cfg: GPT2Config, overrides: PairTokens[] = []): Experiment {
  if (!needsForcing(spec, overrides)) return resolveExperiment(spec, cfg);
  const name = spec.metric.name;
  const conts = continuationTokens(spec, overrides);
  const label = (i: number) => (spec.pairs.length > 1 ? `Pair ${i + 1}: the` : 'The');
  if (!FORCED_METRICS.includes(name)) {
    const i = Math.max(0, conts.findIndex((c) => c.answer.length > 1 || c.wrong.length > 1));
    const field = conts[i].answer.length > 1 ? 'answer' : 'wrong';
    const ids = conts[i][field];
    const what = `${field === 'wrong' ? 'wrong answer' : 'answer'}${overrides[i]?.[field] ? '' : ` ${JSON.stringify(spec.pairs[i][field])}`}`;
    throw new ExperimentError([{ field, pair: i, message: `${label(i)} ${what} is ${ids.length} tokens (${tokenLine(ids)}); multi-token answers are scored by teacher forcing (the sum of the tokens' log-probs), with --metric logit_diff or logprob, not ${name}.` }]);
  }
  // Prompts are checked as for any metric; kl needs no answer, so their checks are the prompts' own.
  const prompts = resolveExperiment({ ...spec, metric: { name: 'kl' } }, cfg);
  const issues: InputIssue[] = [];
  conts.forEach((c, i) => {
    if (!c.answer.length) issues.push({ field: 'answer', pair: i, message: `${label(i)} answer is missing; every metric needs one.` });
    if (name === 'logit_diff' && !c.wrong.length)
      issues.push({ field: 'wrong', pair: i, message: `${label(i)} wrong answer is missing; logit_diff with a multi-token answer measures sum log p(answer) - sum log p(wrong answer).` });
    if (name === 'logit_diff' && c.answer.length && c.answer.join() === c.wrong.join())
      issues.push({ field: 'wrong', pair: i, message: `${label(i)} answer and the wrong answer are the same tokens (${tokenLine(c.answer)}), so the metric is 0 in every run; choose a different wrong answer.` });
    for (const [field, ids] of [['answer', c.answer], ['wrong', c.wrong]] as const) {
      const bad = ids.filter((t) => !Number.isInteger(t) || t < 0 || t >= cfg.dVocab);
      if (bad.length)
        issues.push({ field, pair: i, message: `${label(i)} ${field === 'wrong' ? 'wrong answer' : 'answer'} has tokens this model cannot embed: ${bad.join(', ')} (${cfg.name} has ids 0..${cfg.dVocab - 1}).` });
    }
  });
  const P = prompts.nPos;
  const n = Math.max(...conts.map((c) => Math.max(c.answer.length, c.wrong.length)));
  const nPos = P + n - 1;
  if (nPos > cfg.nCtx)
    issues.push({ field: 'answer', message: `The prompt (${P} tokens) and the longest continuation fed by teacher forcing (${n - 1} tokens) make ${nPos}; ${cfg.name} reads at most ${cfg.nCtx}.` });
  if (issues.length) throw new ExperimentError(issues);

  // Row tokens: the continuation's first n-1 tokens, padded with its last token (never read).
  const fed = (ids: number[], fallback: number[]) => {
    const src = ids.length ? ids : fallback;
    return Array.from({ length: n - 1 }, (_, k) => src[Math.min(k, src.length - 1)]);
  };
  const rows = (prompt: number[][]) => prompt.flatMap((p, i) => [[...p, ...fed(conts[i].answer, conts[i].wrong)], [...p, ...fed(conts[i].wrong, conts[i].answer)]]);
  const clean = rows(prompts.clean);
  const corrupted = rows(prompts.corrupted);
  return {
    ...prompts,
    spec,
    clean,
    corrupted,
    answers: conts.flatMap((c) => [c.answer[0], c.wrong[0] ?? -1]),
    wrongs: conts.flatMap(() => [-1, -1]),
    positions: Array.from({ length: n }, (_, k) => P - 1 + k),
    nPairs: clean.length,
    nPos,
    cleanDisplay: clean.map((ids) => ids.map(displayToken)),
    corruptedDisplay: corrupted.map((ids) => ids.map(displayToken)),
    forced: { answer: conts.map((c) => c.answer), wrong: conts.map((c) => c.wrong), promptLength: P },
  };
}

/** Number of original pairs (rows / 2 when teacher-forced). */
export const pairCount = (exp: Experiment) => (exp.forced ? exp.nPairs / 2 : exp.nPairs);

/** The metric's token coefficients [rows, K, d_vocab]: +2 at each answer token, -2 at each wrong token. */
export function forcedFeeds(cfg: GPT2Config, exp: Experiment): Record<string, Feed> {
  const { answer, wrong } = exp.forced!;
  const K = exp.positions.length;
  const V = cfg.dVocab;
  const coef = new Float32Array(exp.nPairs * K * V);
  answer.forEach((a, i) => {
    a.forEach((t, k) => (coef[((2 * i) * K + k) * V + t] = 2));
    wrong[i].forEach((t, k) => (coef[((2 * i + 1) * K + k) * V + t] = -2));
  });
  return { 'metric.coef': { dtype: 'float32', shape: [exp.nPairs, K, V], data: coef } };
}

/** Each original pair's value from its two rows: [2N, ...] -> [N, ...] (the mean of the rows, see above). */
export function foldRows(data: ArrayLike<number>, nRows: number): Float64Array {
  const size = data.length / nRows;
  const out = new Float64Array((nRows / 2) * size);
  for (let i = 0; i < nRows / 2; i++)
    for (let e = 0; e < size; e++) out[i * size + e] = (data[2 * i * size + e] + data[(2 * i + 1) * size + e]) / 2;
  return out;
}

export interface TokenLogprob {
  token: number;
  text: string;
  /** log p(token | prompt, earlier tokens) in the clean and the corrupted run. */
  clean: number;
  corrupted: number;
}

export interface PerToken {
  answer: TokenLogprob[];
  wrong: TokenLogprob[];
}

