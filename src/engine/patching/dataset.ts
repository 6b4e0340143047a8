// Datasets of prompt pairs (issue 13, item 1): a JSONL or CSV file with `clean, corrupted, answer, wrong` per line
// (optional `positions`), resolved pair by pair (every problem named with its line), grouped by token length and
// run in chunks; per-pair values, their mean and their standard error come out in dataset order.
//
// JSONL: one object per line, e.g. {"clean": "...", "corrupted": "...", "answer": " Mary", "wrong": " John"}.
// CSV: a header row naming the columns, then one pair per row (RFC 4180 quoting; leading spaces are kept, so
// " Mary" stays one token); `positions` is a list of whole numbers separated by spaces or commas.
import { ExperimentError, resolveExperiment, type Experiment, type InputIssue } from './experiment';
import { foldRows, resolveWithContinuations } from './continuations';
import { alignedMeanAndSem, isPositionAxis, placeAligned } from './alignment';
import { familyAxes, type Family } from './families';
import type { AxisName, Labelled } from './labelled';
import type { ExperimentSpec, PromptPair } from './types';
import type { GPT2Config } from '../model/types';
import { mulberry32 as seededRandom } from '../model/checkpoint'; // graph-free, so the page can parse and generate pairs

export interface PairRecord extends PromptPair {
  /** 1-based line of the file where the pair starts. */
  line: number;
  /** Metric positions of this pair (mean_logprob), overriding the command's. */
  positions?: number[];
  /** Anything a generator exported with the pair (seed, corruption); carried, never interpreted. */
  meta?: unknown;
  /** Gaussian noise on the corrupted run's token embeddings (corrupt.ts noisePairs); corrupted = clean. */
  noise?: NoiseSpec;
  /** Multi-token answers given as token ids (teacher forcing, continuations.ts), overriding the texts' tokens. */
  answerTokens?: number[];
  wrongTokens?: number[];
}

export interface NoiseSpec {
  /** Token positions of the clean prompt, without <|endoftext|>. */
  positions: number[];
  std: number;
  seed: number;
}

/** The noise [nPos, d_model] of one pair: N(0, std^2) at the positions (shifted by `offset` for a BOS), else 0. */
export function noiseTensor(spec: NoiseSpec, nPos: number, dModel: number, offset: number): Float32Array {
  const out = new Float32Array(nPos * dModel);
  const rng = seededRandom(spec.seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng()); // Box-Muller
  for (const p of spec.positions) for (let d = 0; d < dModel; d++) out[(p + offset) * dModel + d] = spec.std * normal();
  return out;
}

export interface DatasetIssue {
  line: number;
  field?: string;
  message: string;
}

export class DatasetError extends Error {
  constructor(
    readonly source: string,
    readonly issues: DatasetIssue[],
  ) {
    super(issues.map((i) => `${source} line ${i.line}${i.field ? `, field "${i.field}"` : ''}: ${i.message}`).join('\n'));
    this.name = 'DatasetError';
  }
}

const REQUIRED = ['clean', 'corrupted', 'answer'] as const;
const KNOWN = new Set(['clean', 'corrupted', 'answer', 'wrong', 'positions', 'meta', 'noise', 'answer_tokens', 'wrong_tokens']);
const MAX_ISSUES = 20;

export type DatasetFormat = 'jsonl' | 'csv';

/** The format from a file name (.csv; .jsonl/.json/.ndjson), else from the first character ('{' is JSONL). */
export function datasetFormat(name: string, text: string): DatasetFormat {
  if (/\.csv$/i.test(name)) return 'csv';
  if (/\.(jsonl|ndjson|json)$/i.test(name)) return 'jsonl';
  return text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/** Parses a pairs file; throws DatasetError naming every bad line and field (at most 20). Never evaluates text. */
export function parsePairs(text: string, format: DatasetFormat, source = 'pairs file'): PairRecord[] {
  const issues: DatasetIssue[] = [];
  const rows = format === 'jsonl' ? jsonlRows(text, issues) : csvRows(text, issues);
  const out: PairRecord[] = [];
  for (const { line, fields } of rows) {
    const r = record(line, fields, format, issues);
    if (r) out.push(r);
    if (issues.length >= MAX_ISSUES) break;
  }
  if (!issues.length && out.length === 0) issues.push({ line: 1, message: 'the file has no pairs.' });
  if (issues.length) throw new DatasetError(source, issues.slice(0, MAX_ISSUES));
  return out;
}

type Row = { line: number; fields: Record<string, unknown> };

function jsonlRows(text: string, issues: DatasetIssue[]): Row[] {
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((s, i) => {
    if (s.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      issues.push({ line: i + 1, message: `not valid JSON (${(e as Error).message}).` });
      return;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) issues.push({ line: i + 1, message: 'expected a JSON object {"clean": ..., "corrupted": ..., "answer": ..., "wrong": ...}.' });
    else rows.push({ line: i + 1, fields: v as Record<string, unknown> });
  });
  return rows;
}

/** RFC 4180: fields separated by commas, "quoted" fields may hold commas, newlines and "" for a quote. */
function csvRows(text: string, issues: DatasetIssue[]): Row[] {
  const records: { line: number; cells: string[] }[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      let cell = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) {
            issues.push({ line: start, message: 'a quoted field is not closed (a " is missing).' });
            return [];
          }
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
            } else {
              i++;
              break;
            }
          } else {
            if (text[i] === '\n') line++;
            cell += text[i++];
          }
        }
        if (i < text.length && !/[,\r\n]/.test(text[i])) {
          issues.push({ line, message: `unexpected text after a quoted field (column ${cells.length + 1}); quote the whole field.` });
          while (i < text.length && text[i] !== '\n') i++;
        }
      } else while (i < text.length && !/[,\r\n]/.test(text[i])) cell += text[i++];
      cells.push(cell);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') {
        i++;
        line++;
      }
      break;
    }
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: start, cells });
  }
  if (!records.length) return [];
  const [head, ...body] = records;
  const names = head.cells.map((c) => c.trim());
  const unknown = names.filter((n) => !KNOWN.has(n) || n === 'meta');
  if (unknown.length) {
    issues.push({ line: head.line, message: `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; the header names the columns: clean, corrupted, answer, wrong, positions.` });
    return [];
  }
  for (const f of REQUIRED)
    if (!names.includes(f)) {
      issues.push({ line: head.line, field: f, message: `the header has no "${f}" column (it names the columns: clean, corrupted, answer, wrong, positions).` });
      return [];
    }
  const rows: Row[] = [];
  for (const r of body) {
    if (r.cells.length !== names.length) {
      issues.push({ line: r.line, message: `${r.cells.length} fields, but the header names ${names.length}; quote fields that contain commas.` });
      continue;
    }
    rows.push({ line: r.line, fields: Object.fromEntries(names.map((n, k) => [n, r.cells[k]])) });
  }
  return rows;
}

function record(line: number, f: Record<string, unknown>, format: DatasetFormat, issues: DatasetIssue[]): PairRecord | undefined {
  const before = issues.length;
  for (const k of Object.keys(f))
    if (!KNOWN.has(k)) issues.push({ line, field: k, message: `unknown field; a pair has clean, corrupted, answer, wrong and optionally positions, meta.` });
  const text = (k: string, required: boolean): string => {
    const v = f[k];
    if (v === undefined || v === null) {
      if (required) issues.push({ line, field: k, message: 'missing.' });
      return '';
    }
    if (typeof v !== 'string') issues.push({ line, field: k, message: `must be a string, not ${Array.isArray(v) ? 'a list' : typeof v}.` });
    return typeof v === 'string' ? v : '';
  };
  const ids = (k: 'answer_tokens' | 'wrong_tokens'): number[] | undefined => {
    const v = f[k];
    if (v === undefined || v === null || v === '') return undefined;
    const list = format === 'csv' && typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v;
    const ok = Array.isArray(list) && list.length > 0 && list.every((x) => (typeof x === 'number' && Number.isInteger(x) && x >= 0) || (typeof x === 'string' && /^\d+$/.test(x)));
    if (ok) return (list as (number | string)[]).map(Number);
    issues.push({ line, field: k, message: `must be a non-empty list of token ids (whole numbers >= 0), e.g. ${format === 'csv' ? '"3362 1042"' : '[3362, 1042]'}.` });
    return undefined;
  };
  const answerTokens = ids('answer_tokens');
  const wrongTokens = ids('wrong_tokens');
  const clean = text('clean', true);
  const corrupted = text('corrupted', true);
  const answer = text('answer', !answerTokens);
  const wrong = text('wrong', false);
  let positions: number[] | undefined;
  const p = f.positions;
  if (p !== undefined && p !== null && p !== '') {
    const list = format === 'csv' && typeof p === 'string' ? p.split(/[\s,]+/).filter(Boolean) : p;
    const ok = Array.isArray(list) && list.length > 0 && list.every((x) => (typeof x === 'number' && Number.isInteger(x) && x >= 0) || (typeof x === 'string' && /^\d+$/.test(x)));
    if (ok) positions = (list as (number | string)[]).map(Number);
    else issues.push({ line, field: 'positions', message: `must be a non-empty list of whole numbers >= 0, e.g. ${format === 'csv' ? '"3 7 12"' : '[3, 7, 12]'}.` });
  }
  let noise: NoiseSpec | undefined;
  if (f.noise !== undefined) {
    const n = f.noise as Partial<NoiseSpec> | null;
    const wholes = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((q) => Number.isInteger(q) && q >= 0);
    if (format !== 'jsonl' || !n || typeof n !== 'object' || !wholes(n.positions) || !(typeof n.std === 'number' && n.std > 0 && Number.isFinite(n.std)) || !Number.isSafeInteger(n.seed))
      issues.push({ line, field: 'noise', message: 'must be {"positions": [whole numbers], "std": a positive number, "seed": a whole number} (JSONL only).' });
    else if (clean !== corrupted) issues.push({ line, field: 'noise', message: 'a noise pair corrupts the clean prompt itself: its corrupted prompt must equal its clean prompt.' });
    else noise = { positions: n.positions!, std: n.std!, seed: n.seed! };
  }
  if (issues.length > before) return undefined;
  return {
    line, clean, corrupted, answer, wrong, ...(positions ? { positions } : {}), ...(noise ? { noise } : {}), ...(f.meta !== undefined ? { meta: f.meta } : {}),
    ...(answerTokens ? { answerTokens } : {}), ...(wrongTokens ? { wrongTokens } : {}),
  };
}

/**
 * Resolves every pair with the command's metric, direction and options; throws ExperimentError whose messages
 * start with the pair's line (a length mismatch shows both tokenisations, as for one pair).
 */
export function resolvePairs(
  records: PairRecord[], base: Omit<ExperimentSpec, 'pairs'>, cfg: GPT2Config, source = 'pairs file',
  /** Multi-token answers by teacher forcing (the CLI); without it (the app), answers must be one token. */
  opts: { teacherForcing?: boolean } = {},
): Experiment[] {
  const issues: InputIssue[] = [];
  const exps: Experiment[] = [];
  records.forEach((r, i) => {
    const metric = { ...base.metric, positions: r.positions ?? base.metric.positions };
    try {
      const spec = { ...base, metric, pairs: [{ clean: r.clean, corrupted: r.corrupted, answer: r.answer, wrong: r.wrong }] };
      if (!opts.teacherForcing && (r.answerTokens || r.wrongTokens))
        throw new ExperimentError([{ field: 'answer', message: 'answer_tokens / wrong_tokens (multi-token answers by teacher forcing) run in the CLI (patchwork attribute|patch --pairs); here answers are one token.' }]);
      const e = opts.teacherForcing ? resolveWithContinuations(spec, cfg, [{ answer: r.answerTokens, wrong: r.wrongTokens }]) : resolveExperiment(spec, cfg);
      if (r.noise && e.forced) throw new ExperimentError([{ field: 'pairs', message: 'a noise pair takes a one-token answer (multi-token answers are not combined with Gaussian noise).' }]);
      if (r.noise) {
        const offset = base.prependBos ? 1 : 0;
        const outside = r.noise.positions.filter((p) => p + offset >= e.nPos);
        if (outside.length) throw new ExperimentError([{ field: 'pairs', message: `noise positions ${outside.join(', ')} are outside the prompt (${e.nPos - offset} tokens without <|endoftext|>).` }]);
        e.noise = { data: noiseTensor(r.noise, e.nPos, cfg.dModel, offset), key: JSON.stringify(r.noise) };
        e.warnings = []; // identical prompts are the point: the noise is the corruption
      }
      exps.push(e);
    } catch (e) {
      if (!(e instanceof ExperimentError)) throw e;
      for (const issue of e.issues) issues.push({ ...issue, pair: i, message: `${source} line ${r.line}, field "${issue.field}": ${issue.message}` });
    }
  });
  if (issues.length) throw new ExperimentError(issues.slice(0, MAX_ISSUES));
  return exps;
}

/** Single-pair experiments of equal length and metric positions as one batched experiment. */
export function joinExperiments(exps: Experiment[]): Experiment {
  const [first] = exps;
  if (exps.some((e) => e.nPos !== first.nPos || e.positions.join() !== first.positions.join() || !e.noise !== !first.noise || !e.forced !== !first.forced))
    throw new Error('joinExperiments: pairs of different lengths or metric positions cannot share a batch.');
  const all = <K extends keyof Experiment>(k: K) => exps.flatMap((e) => e[k] as unknown[]) as Experiment[K];
  return {
    ...first,
    spec: { ...first.spec, pairs: exps.flatMap((e) => e.spec.pairs) },
    clean: all('clean'), corrupted: all('corrupted'), answers: all('answers'), wrongs: all('wrongs'),
    cleanDisplay: all('cleanDisplay'), corruptedDisplay: all('corruptedDisplay'),
    warnings: exps.flatMap((e) => e.warnings ?? []),
    noise: exps.some((e) => e.noise) ? { data: concat(exps.map((e) => e.noise!.data)), key: exps.map((e) => e.noise!.key).join('|') } : undefined,
    klSource: exps.every((e) => e.klSource) ? {
      probs: concat(exps.map((e) => e.klSource!.probs)), negEntropy: concat(exps.map((e) => e.klSource!.negEntropy)),
    } : undefined,
    nPairs: exps.reduce((a, e) => a + e.nPairs, 0),
    forced: first.forced && { promptLength: first.forced.promptLength, answer: exps.flatMap((e) => e.forced!.answer), wrong: exps.flatMap((e) => e.forced!.wrong) },
  };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface Batch {
  exp: Experiment;
  /** Dataset index of each of the batch's pairs. */
  pairs: number[];
}

/**
 * Batches of at most `maxPairs` pairs of one token length (and one set of metric positions), sizes as equal as
 * possible within a group so that each group needs at most two graphs.
 */
export function batches(exps: Experiment[], maxPairs: number): Batch[] {
  const groups = new Map<string, number[]>();
  exps.forEach((e, i) => {
    const key = `${e.nPos}:${e.positions.join('.')}:${e.noise ? 'noise' : ''}:${e.forced ? 'forced' : ''}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  });
  const out: Batch[] = [];
  for (const members of groups.values()) {
    const S = Math.ceil(members.length / Math.ceil(members.length / Math.max(1, maxPairs)));
    for (let k = 0; k < members.length; k += S) {
      const pairs = members.slice(k, k + S);
      out.push({ exp: joinExperiments(pairs.map((i) => exps[i])), pairs });
    }
  }
  return out;
}

/** Per-pair values: a family's layout with a leading `pair` axis, in dataset order. */
export interface PairLabelled {
  axes: ('pair' | AxisName)[];
  shape: number[];
  data: Float64Array;
}

export interface DatasetSummary {
  metric: { clean: number; corrupted: number };
  metricPerPair: { clean: Float64Array; corrupted: Float64Array };
  mean: Partial<Record<Family, Labelled>>;
  perPair: Partial<Record<Family, PairLabelled>>;
  sem: Partial<Record<Family, Labelled>>;
  /**
   * Pairs of several token lengths (alignment.ts): positions are aligned from the end (the last position, where the
   * metric is read, is last for every pair); each pair's offset (longest length - its length), and per family with
   * a position axis the number of pairs that have each cell (cells a shorter pair lacks are NaN in per_pair and left
   * out of that cell's mean and sem).
   */
  alignment?: { offsets: number[]; count: Partial<Record<Family, Labelled>> };
}

/** Mean over pairs and standard error of the mean (sample standard deviation over pairs / sqrt(n); 0 for n = 1). */
export function meanAndSem(perPair: PairLabelled): { mean: Labelled; sem: Labelled } {
  const [n, ...shape] = perPair.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  const mean = new Float64Array(size);
  const sem = new Float64Array(size);
  for (let b = 0; b < n; b++) for (let i = 0; i < size; i++) mean[i] += perPair.data[b * size + i] / n;
  if (n > 1) {
    for (let b = 0; b < n; b++)
      for (let i = 0; i < size; i++) {
        const d = perPair.data[b * size + i] - mean[i];
        sem[i] += d * d;
      }
    for (let i = 0; i < size; i++) sem[i] = Math.sqrt(sem[i] / (n - 1) / n);
  }
  const axes = perPair.axes.slice(1) as AxisName[];
  return { mean: { axes, shape, data: mean }, sem: { axes, shape, data: sem } };
}

export interface DatasetRunOptions {
  /** Pairs per batch (default: about 512 tokens per batch, at most 32 pairs). */
  maxPairs?: number;
  onProgress?: (donePairs: number, totalPairs: number) => void;
  signal?: AbortSignal;
}

export const defaultBatchPairs = (nPos: number) => Math.max(1, Math.min(32, Math.floor(512 / nPos)));

/**
 * Runs `run` on each batch (which returns per-pair metrics and per-pair [batch pairs, ...layout] values) and
 * gathers them in dataset order; the mean over pairs and the sem of every family.
 */
export async function runBatches(
  exps: Experiment[],
  families: readonly Family[],
  run: (exp: Experiment, pairs: number[]) => Promise<{ metric: { clean: ArrayLike<number>; corrupted: ArrayLike<number> }; values: Partial<Record<Family, PairLabelled>> }>,
  opts: DatasetRunOptions = {},
): Promise<DatasetSummary> {
  const n = exps.length;
  const lengths = [...new Set(exps.map((e) => e.nPos))];
  // Several lengths: positions are aligned from the end (alignment.ts), so a family with a position axis has one
  // layout, that of the longest pair.
  const longest = Math.max(...lengths);
  const offsets = exps.map((e) => longest - e.nPos);
  const aligned = lengths.length > 1;
  const maxPairs = opts.maxPairs ?? defaultBatchPairs(longest);
  const metricPerPair = { clean: new Float64Array(n), corrupted: new Float64Array(n) };
  const perPair: Partial<Record<Family, PairLabelled>> = {};
  let done = 0;
  opts.onProgress?.(0, n);
  for (const batch of batches(exps, maxPairs)) {
    if (opts.signal?.aborted) throw new DOMException('The run was cancelled.', 'AbortError');
    const r = forcedFold(batch.exp, await run(batch.exp, batch.pairs));
    batch.pairs.forEach((pair, b) => {
      metricPerPair.clean[pair] = r.metric.clean[b];
      metricPerPair.corrupted[pair] = r.metric.corrupted[b];
    });
    for (const f of families) {
      const v = r.values[f]!; // [batch pairs, ...layout]
      if (aligned) {
        placeAligned(perPair, f, v, batch.pairs, n, longest, offsets);
        continue;
      }
      const [, ...shape] = v.shape;
      const size = shape.reduce((a, c) => a * c, 1);
      const into = (perPair[f] ??= { axes: v.axes, shape: [n, ...shape], data: new Float64Array(n * size) });
      batch.pairs.forEach((pair, b) => into.data.set(v.data.subarray(b * size, (b + 1) * size), pair * size));
    }
    done += batch.pairs.length;
    opts.onProgress?.(done, n);
  }
  const mean: Partial<Record<Family, Labelled>> = {};
  const sem: Partial<Record<Family, Labelled>> = {};
  const count: Partial<Record<Family, Labelled>> = {};
  for (const f of families) {
    if (aligned) ({ mean: mean[f], sem: sem[f], count: count[f] } = alignedMeanAndSem(perPair[f]!, offsets));
    else ({ mean: mean[f], sem: sem[f] } = meanAndSem(perPair[f]!));
    if (aligned && !familyAxes(f).some(isPositionAxis)) delete count[f];
  }
  const avg = (a: Float64Array) => a.reduce((s, x) => s + x, 0) / n;
  return {
    metric: { clean: avg(metricPerPair.clean), corrupted: avg(metricPerPair.corrupted) }, metricPerPair, mean, perPair, sem,
    ...(aligned ? { alignment: { offsets, count } } : {}),
  };
}

type BatchResult = { metric: { clean: ArrayLike<number>; corrupted: ArrayLike<number> }; values: Partial<Record<Family, PairLabelled>> };

/** A teacher-forced batch has two rows per pair (continuations.ts): each pair's values are the mean of its rows. */
function forcedFold(exp: Experiment, r: BatchResult): BatchResult {
  if (!exp.forced) return r;
  const R = exp.nPairs;
  const values: Partial<Record<Family, PairLabelled>> = {};
  for (const [f, v] of Object.entries(r.values) as [Family, PairLabelled][])
    values[f] = v.shape[0] === R ? { axes: v.axes, shape: [R / 2, ...v.shape.slice(1)], data: foldRows(v.data, R) } : v;
  const fold = (m: ArrayLike<number>) => (m.length === R ? foldRows(m, R) : m);
  return { metric: { clean: fold(r.metric.clean), corrupted: fold(r.metric.corrupted) }, values };
}
