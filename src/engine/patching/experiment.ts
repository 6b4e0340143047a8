// Turns what the user typed (ExperimentSpec) into token ids, or into specific messages about what is wrong.
import { BOS_TOKEN, displayToken, encode, singleToken } from '../model/tokenizer';
import type { GPT2Config } from '../model/types';
import type { ExperimentSpec, MetricName } from './types';
import { INTERNAL_METRICS, LOGIT_METRICS, isInternalMetric, siteFields, formatMetric } from './metric-spec';

export const METRICS: readonly MetricName[] = [...LOGIT_METRICS, ...INTERNAL_METRICS];

export interface InputIssue {
  /** Which input the message is about (the UI shows it next to that field). */
  field: 'clean' | 'corrupted' | 'answer' | 'wrong' | 'metric' | 'pairs' | 'basket' | 'positions';
  /** 0-based pair index, when the issue belongs to one pair. */
  pair?: number;
  message: string;
}

export class ExperimentError extends Error {
  constructor(readonly issues: InputIssue[]) {
    super(issues.map((i) => i.message).join('\n'));
    this.name = 'ExperimentError';
  }
}

export interface Experiment {
  spec: ExperimentSpec;
  /** [pair][pos] token ids, BOS included when spec.prependBos. */
  clean: number[][];
  corrupted: number[][];
  answers: number[];
  wrongs: number[];
  basket: number[];
  /** Metric positions (indices into the prompt); logit metrics use the last position. */
  positions: number[];
  nPairs: number;
  nPos: number;
  /** Display strings per token (leading space as '·'), for labels. */
  cleanDisplay: string[][];
  corruptedDisplay: string[][];
  /** Things that let the experiment run but make some results meaningless (e.g. identical prompts). */
  warnings?: string[];
  /**
   * The kl metric's fixed source distribution (metrics.ts prepareMetric): the clean run's next-token probabilities
   * [pair, K, d_vocab] at the metric positions and sum p log p [pair, K].
   */
  klSource?: { probs: Float32Array; negEntropy: Float32Array };
  /** The dla metric's fixed direction [pair, d_model] (internal-metric.ts prepareInternalMetric). */
  dlaDirection?: Float32Array;
  /**
   * Gaussian-noise corruption (ROME): [pair, pos, d_model] added to the corrupted run's token embeddings
   * (hook_embed); the corrupted tokens are then the clean ones. `key` names it in graph caches.
   */
  noise?: { data: Float32Array; key: string };
  /** Multi-token answers by teacher forcing (continuations.ts): 2 rows per pair, each pair's continuations. */
  forced?: import('./continuations').Forced;
}

const tokenLine = (ids: number[]) => ids.map(displayToken).join(' | ');

/** Resolves and validates; throws ExperimentError listing every problem found. */
export function resolveExperiment(spec: ExperimentSpec, cfg: GPT2Config): Experiment {
  const issues: InputIssue[] = [];
  if (!METRICS.includes(spec.metric.name))
    issues.push({ field: 'metric', message: `Unknown metric "${spec.metric.name}"; choose one of ${METRICS.join(', ')}.` });
  if (spec.pairs.length === 0) issues.push({ field: 'pairs', message: 'Add at least one prompt pair.' });
  const enc = (text: string) => encode(text, { prependBos: spec.prependBos });
  const clean: number[][] = [];
  const corrupted: number[][] = [];
  const answers: number[] = [];
  const wrongs: number[] = [];
  const warnings: string[] = [];
  const label = (i: number) => (spec.pairs.length > 1 ? `Pair ${i + 1}: the` : 'The');

  spec.pairs.forEach((pair, i) => {
    for (const field of ['clean', 'corrupted'] as const)
      if (pair[field].trim() === '') issues.push({ field, pair: i, message: `${label(i)} ${field} prompt is empty.` });
    const c = enc(pair.clean);
    const k = enc(pair.corrupted);
    clean.push(c);
    corrupted.push(k);
    for (const [field, ids] of [['clean', c], ['corrupted', k]] as const)
      if (ids.length > cfg.nCtx)
        issues.push({ field, pair: i, message: `${label(i)} ${field} prompt is ${ids.length} tokens; ${cfg.name} reads at most ${cfg.nCtx}.` });
    if (pair.clean.trim() && pair.corrupted.trim() && c.length !== k.length)
      issues.push({
        field: 'corrupted',
        pair: i,
        message:
          `${label(i)} clean prompt is ${c.length} tokens and the corrupted prompt ${k.length}; patching needs them aligned position by position.\n` +
          `  clean:     ${tokenLine(c)}\n  corrupted: ${tokenLine(k)}`,
      });
    const needsWrong = spec.metric.name === 'logit_diff';
    // KL compares whole distributions, attn/prefix/neuron read an activation: no answer token (one given is ignored).
    // dla projects on W_U[:, answer] - W_U[:, wrong], the wrong answer optional.
    const noAnswer = spec.metric.name === 'kl' || spec.metric.name === 'attn' || spec.metric.name === 'prefix' || spec.metric.name === 'neuron';
    const optionalWrong = spec.metric.name === 'dla' && pair.wrong !== '';
    const fields = noAnswer ? ([] as const) : needsWrong || optionalWrong ? (['answer', 'wrong'] as const) : (['answer'] as const);
    if (noAnswer) answers.push(-1);
    for (const field of fields) {
      const what = field === 'wrong' ? 'wrong answer' : 'answer';
      // An empty field is a missing input, not a "0 tokens" answer (issue 14, item 9).
      if (pair[field] === '') {
        const why = field === 'wrong' ? `the ${spec.metric.name} metric needs one (it measures logit(answer) - logit(wrong answer))` : 'every metric needs one';
        issues.push({ field, pair: i, message: `${label(i)} ${what} is missing; ${why}.` });
        continue;
      }
      const r = singleToken(pair[field]);
      if (r.ok) (field === 'answer' ? answers : wrongs).push(r.id);
      else issues.push({ field, pair: i, message: `${label(i)} ${what} ${r.message}.`.replace(/\.\.$/, '.') });
    }
    if (!needsWrong && !optionalWrong) wrongs.push(-1);
    // The same token twice makes logit_diff 0 in every run, so every patch would be a silent 0 (issue 16).
    if (needsWrong && answers.length === i + 1 && wrongs.length === i + 1 && answers[i] === wrongs[i])
      issues.push({
        field: 'wrong',
        pair: i,
        message: `${label(i)} answer and the wrong answer are the same token (${displayToken(answers[i])}), so logit_diff is 0 in every run; choose a different wrong answer.`,
      });
    if (pair.clean.trim() && pair.clean === pair.corrupted)
      warnings.push(`${label(i)} clean and corrupted prompts are identical, so every activation patch and its attribution estimate is 0; only zero or mean ablation can show anything.`);
  });

  const lengths = clean.map((c) => c.length);
  if (issues.length === 0 && new Set(lengths).size > 1)
    issues.push({
      field: 'pairs',
      message: `All prompts must have the same number of tokens: ${lengths.map((n, i) => `pair ${i + 1} has ${n}`).join(', ')}.`,
    });

  const basket: number[] = [];
  if (spec.metric.name === 'basket') {
    if (!spec.metric.basket?.length) issues.push({ field: 'basket', message: 'The basket metric needs at least one basket token.' });
    for (const t of spec.metric.basket ?? []) {
      const r = singleToken(t);
      if (r.ok) basket.push(r.id);
      else issues.push({ field: 'basket', message: `Basket token ${r.message}.`.replace(/\.\.$/, '.') });
    }
  }

  const nPos = clean[0]?.length ?? 0;
  let positions = [nPos - 1];
  if (spec.metric.name === 'mean_logprob' && spec.metric.positions?.length) {
    positions = [...spec.metric.positions];
    const bad = positions.filter((p) => !Number.isInteger(p) || p < 0 || p >= nPos);
    if (bad.length) issues.push({ field: 'positions', message: `Positions ${bad.join(', ')} are outside the prompt (0..${nPos - 1}).` });
  }
  if (isInternalMetric(spec.metric.name) && METRICS.includes(spec.metric.name)) {
    const site = siteIssues(spec, cfg, nPos, clean);
    issues.push(...site.issues);
    if (site.positions) positions = site.positions;
  }
  if (issues.length === 0) issues.push(...vocabularyIssues(cfg, spec.pairs.length, { clean, corrupted, answers, wrongs, basket }));
  if (issues.length) throw new ExperimentError(issues);
  return {
    spec, clean, corrupted, answers, wrongs, basket, positions, warnings,
    nPairs: clean.length,
    nPos,
    cleanDisplay: clean.map((ids) => ids.map(displayToken)),
    corruptedDisplay: corrupted.map((ids) => ids.map(displayToken)),
  };
}

/**
 * The internal metrics' site against the model and prompt (field 'metric'), and the positions whose final rows the
 * metric reads (the graphs keep only those rows of the last layer): attn the query, neuron its position, dla the
 * last, prefix every position.
 */
function siteIssues(spec: ExperimentSpec, cfg: GPT2Config, nPos: number, clean: number[][]): { issues: InputIssue[]; positions?: number[] } {
  const name = spec.metric.name as (typeof INTERNAL_METRICS)[number];
  const site = spec.metric.site;
  const issues: InputIssue[] = [];
  const say = (message: string) => issues.push({ field: 'metric', message });
  if (!site) {
    say(`The ${name} metric needs its location (${siteFields(name).join(', ')}).`);
    return { issues };
  }
  const text = (() => {
    try {
      return formatMetric(spec.metric);
    } catch {
      return name;
    }
  })();
  const limits: Record<string, [number, string]> = {
    layer: [cfg.nLayers, `${cfg.name} has ${cfg.nLayers} layers (0..${cfg.nLayers - 1})`],
    head: [cfg.nHeads, `${cfg.name} has ${cfg.nHeads} heads per layer (0..${cfg.nHeads - 1})`],
    neuron: [cfg.dMlp, `${cfg.name} has ${cfg.dMlp} MLP neurons per layer (0..${cfg.dMlp - 1})`],
    pos: [nPos, `the prompt has ${nPos} tokens (positions 0..${nPos - 1})`],
    query: [nPos, `the prompt has ${nPos} tokens (positions 0..${nPos - 1})`],
    key: [nPos, `the prompt has ${nPos} tokens (positions 0..${nPos - 1})`],
  };
  const words: Record<string, string> = { layer: 'layer', head: 'head', neuron: 'neuron', pos: 'position', query: 'query position', key: 'key position' };
  for (const f of siteFields(name)) {
    const v = site[f];
    if (v === undefined || !Number.isInteger(v) || v < 0) say(`Metric ${text}: the ${words[f]} must be a whole number >= 0.`);
    else if (nPos > 0 && v >= limits[f][0]) say(`Metric ${text}: ${words[f]} ${v} is out of range; ${limits[f][1]}.`);
  }
  if (issues.length) return { issues };
  if (name === 'attn' && site.key! > site.query!)
    say(`Metric ${text}: the key position ${site.key} is after the query position ${site.query}; a query attends only to keys at or before it (key <= query).`);
  if (name === 'prefix')
    clean.forEach((c, i) => {
      if (prefixKeys(c).length === 0)
        issues.push({
          field: 'metric',
          pair: clean.length > 1 ? i : undefined,
          message: `${clean.length > 1 ? `Pair ${i + 1}: the` : 'The'} clean prompt repeats no token, so ${text} has no query to average over (a query i needs a key j <= i whose previous token equals token i, as in repeated random tokens).`,
        });
    });
  return { issues, positions: internalPositions(spec.metric, nPos) };
}

/** The rows an internal metric reads: attn the query, neuron its position, dla the last, prefix every position. */
export function internalPositions(metric: ExperimentSpec['metric'], nPos: number): number[] {
  const site = metric.site!;
  switch (metric.name) {
    case 'attn': return [site.query!];
    case 'neuron': return [site.pos!];
    case 'prefix': return Array.from({ length: nPos }, (_, p) => p);
    default: return [nPos - 1];
  }
}

/**
 * The prefix-matching score's key sets from a clean prompt: [query i, key j] with 1 <= j <= i and
 * tokens[j - 1] == tokens[i] (the token after an earlier copy of the current one).
 */
export function prefixKeys(tokens: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < tokens.length; i++) for (let j = 1; j <= i; j++) if (tokens[j - 1] === tokens[i]) out.push([i, j]);
  return out;
}

/**
 * Ids the model has no embedding row for. Patchwork tokenises with GPT-2's tokenizer (ids 0..50256); a checkpoint
 * with a smaller vocab_size would otherwise fail inside onnxruntime with a bare Gather index error (issue 16).
 */
function vocabularyIssues(
  cfg: GPT2Config,
  nPairs: number,
  ids: { clean: number[][]; corrupted: number[][]; answers: number[]; wrongs: number[]; basket: number[] },
): InputIssue[] {
  const issues: InputIssue[] = [];
  const outside = (list: readonly number[]) => [...new Set(list.filter((id) => id >= cfg.dVocab))];
  const describe = (bad: number[]) =>
    bad.slice(0, 5).map((id) => `${displayToken(id)} (id ${id})`).join(', ') + (bad.length > 5 ? ` and ${bad.length - 5} more` : '');
  const vocab = `${cfg.name} has vocab_size ${cfg.dVocab} (token ids 0..${cfg.dVocab - 1}) in its config.json, but Patchwork tokenises with GPT-2's tokenizer (ids 0..50256)`;
  const label = (i: number) => (nPairs > 1 ? `Pair ${i + 1}: the` : 'The');
  for (let i = 0; i < nPairs; i++) {
    for (const [field, what, list] of [
      ['clean', 'clean prompt', ids.clean[i]],
      ['corrupted', 'corrupted prompt', ids.corrupted[i]],
      ['answer', 'answer', [ids.answers[i]]],
      ['wrong', 'wrong answer', [ids.wrongs[i]]],
    ] as const) {
      const bad = outside(list);
      if (bad.length) issues.push({ field, pair: i, message: `${label(i)} ${what} has tokens this model cannot embed: ${describe(bad)}. ${vocab}.` });
    }
  }
  const bad = outside(ids.basket);
  if (bad.length) issues.push({ field: 'basket', message: `The basket has tokens this model cannot embed: ${describe(bad)}. ${vocab}.` });
  return issues;
}

/**
 * Target token at each metric position for mean_logprob: the clean continuation (next clean token, or the
 * answer after the last position). Logit metrics use the answer.
 */
export function metricTargets(exp: Experiment, pair: number): number[] {
  const c = exp.clean[pair];
  return exp.positions.map((p) => (exp.spec.metric.name === 'mean_logprob' && p + 1 < c.length ? c[p + 1] : exp.answers[pair]));
}

export { BOS_TOKEN };

/** An experiment from token ids directly (scripts, tests, models with their own vocabularies). */
export function experimentFromTokens(t: {
  clean: number[][];
  corrupted: number[][];
  answers: number[];
  wrongs?: number[];
  basket?: number[];
  positions?: number[];
  spec?: Partial<ExperimentSpec>;
}): Experiment {
  const nPos = t.clean[0].length;
  if (t.clean.some((c, i) => c.length !== nPos || t.corrupted[i].length !== nPos))
    throw new ExperimentError([{ field: 'pairs', message: 'All prompts must have the same number of tokens.' }]);
  const spec: ExperimentSpec = {
    pairs: t.clean.map(() => ({ clean: '', corrupted: '', answer: '', wrong: '' })),
    metric: { name: 'logit_diff' },
    direction: 'denoising',
    options: { freezeLayerNorm: false, freezeAttention: false },
    prependBos: false,
    ...t.spec,
  };
  return {
    spec,
    clean: t.clean,
    corrupted: t.corrupted,
    answers: t.answers,
    wrongs: t.wrongs ?? t.answers.map(() => -1),
    basket: t.basket ?? [],
    positions: t.positions ?? (isInternalMetric(spec.metric.name) ? internalPositions(spec.metric, nPos) : [nPos - 1]),
    nPairs: t.clean.length,
    nPos,
    cleanDisplay: t.clean.map((ids) => ids.map(String)),
    corruptedDisplay: t.corrupted.map((ids) => ids.map(String)),
  };
}

/**
 * The experiment's shape at another prompt length, for tracing graphs at moved sizes (runtime/symbolic.ts): graph
 * builders read nPos; token ids and metric positions are inputs and are not read.
 */
export function atLength(exp: Experiment, nPos: number): Experiment {
  return nPos === exp.nPos ? exp : { ...exp, nPos };
}
