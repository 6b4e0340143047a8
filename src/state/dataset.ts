// Datasets of prompt pairs in the app (issue 13): the imported or generated dataset, the pair on screen, and the pure
// helpers around them (parsing a file with the engine's own parser, caps, per-pair slices, sorting, what a link
// can carry). Arrays stay in the results cache (results.ts, RunResult.pairs); this store holds the records only.
import { create } from 'zustand';
import { DatasetError, datasetFormat, parsePairs, type PairLabelled, type PairRecord } from '../engine/patching/dataset';
import { familyShape, type Family } from '../engine/patching/families';
import type { GPT2Config } from '../engine/model/types';
import type { ExperimentSpec, Labelled, PromptPair } from '../engine/patching/types';

/** Most pairs the app imports (the CLI takes any number): 1,000 IOI-style pairs, the target. */
export const MAX_DATASET_PAIRS = 1000;
/** Largest file read (a 1,000-pair JSONL of long prompts is well under it). */
export const MAX_DATASET_BYTES = 8 * 1024 * 1024;
/** Per-pair results kept on the page, all families together (they are also the size of the worker's answer). */
export const MAX_PER_PAIR_BYTES = 512 * 1024 * 1024;

export interface Dataset {
  /** File name, or what generated it ("abc, seed 7"). */
  name: string;
  records: PairRecord[];
  /** For generated datasets: the generator and its seed, shown so the data can be made again. */
  generated?: { generator: string; seed?: number; detail?: string };
}

export interface DatasetStore {
  dataset: Dataset | null;
  /** The last import's problem (line and field named), or null. The dataset and the typed pairs stay as they were. */
  importError: string | null;
  /** Pairs done / total of a dataset run in flight. */
  progress: { done: number; total: number } | null;
  /** The pair the views show: null = all pairs (mean). */
  pair: number | null;
}

export const useDatasetStore = create<DatasetStore>(() => ({ dataset: null, importError: null, progress: null, pair: null }));

export type ParsedDataset = { ok: true; records: PairRecord[] } | { ok: false; message: string };

/** A dataset file's text through the engine's parser (JSONL or CSV by name or content), capped; never throws. */
export function parseDatasetText(name: string, text: string): ParsedDataset {
  if (text.length > MAX_DATASET_BYTES) {
    return { ok: false, message: `${name} is ${(text.length / 1e6).toFixed(1)} MB; the app reads datasets up to ${MAX_DATASET_BYTES / 1024 / 1024} MB (the CLI's --pairs takes any size).` };
  }
  let records: PairRecord[];
  try {
    records = parsePairs(text, datasetFormat(name, text), name);
  } catch (e) {
    if (e instanceof DatasetError) return { ok: false, message: e.message };
    return { ok: false, message: `${name}: ${(e as Error).message}` };
  }
  if (records.length > MAX_DATASET_PAIRS) {
    return { ok: false, message: `${name} has ${records.length} pairs; the app runs at most ${MAX_DATASET_PAIRS} (split the file, or use the CLI: patchwork attribute --pairs ${name}).` };
  }
  return { ok: true, records };
}

export const pairOf = (r: PairRecord): PromptPair => ({ clean: r.clean, corrupted: r.corrupted, answer: r.answer, wrong: r.wrong });

/** Typed pairs as records (line = pair number), so typed and imported pairs run the same way. */
export function recordsOfPairs(pairs: PromptPair[]): PairRecord[] {
  return pairs.map((p, i) => ({ ...p, line: i + 1 }));
}

/** The spec of a whole dataset: the editor's metric, direction and options with the dataset's pairs. */
export function datasetSpec(base: ExperimentSpec, records: PairRecord[]): ExperimentSpec {
  return { ...base, pairs: records.map(pairOf) };
}

/** Whether exact patches can rerun a record from its prompts alone (no per-pair positions, no embedding noise). */
export function plainRecord(r: PairRecord): boolean {
  return !r.positions && !r.noise;
}

/** Bytes of per-pair results of `n` pairs of `nPos` tokens: one float64 per family entry and pair. */
export function perPairBytes(cfg: Pick<GPT2Config, 'nLayers' | 'nHeads' | 'dMlp'>, families: readonly Family[], nPos: number, n: number): number {
  const perPair = families.reduce((a, f) => a + familyShape(f, cfg, nPos).reduce((x, y) => x * y, 1), 0);
  return perPair * 8 * n;
}

/** The message when per-pair results would not fit, else null. */
export function perPairCapMessage(cfg: Pick<GPT2Config, 'nLayers' | 'nHeads' | 'dMlp'>, families: readonly Family[], nPos: number, n: number): string | null {
  const bytes = perPairBytes(cfg, families, nPos, n);
  if (bytes <= MAX_PER_PAIR_BYTES) return null;
  const fit = Math.max(1, Math.floor(MAX_PER_PAIR_BYTES / perPairBytes(cfg, families, nPos, 1)));
  return `Per-pair results of ${n} pairs of ${nPos} tokens on this model take ${(bytes / 1024 / 1024).toFixed(0)} MB, over the app's ${MAX_PER_PAIR_BYTES / 1024 / 1024} MB: run at most ${fit} pairs here, or the whole file with the CLI (patchwork attribute --pairs FILE).`;
}

/** One pair's values out of [pair, ...layout]. */
export function pairSlice(perPair: PairLabelled, pair: number): Labelled {
  const [n, ...shape] = perPair.shape;
  if (!(pair >= 0 && pair < n)) throw new RangeError(`pair ${pair} is outside 0..${n - 1}`);
  const size = shape.reduce((a, b) => a * b, 1);
  return { axes: perPair.axes.slice(1) as Labelled['axes'], shape, data: perPair.data.slice(pair * size, (pair + 1) * size) };
}

export type PairColumn = 'index' | 'clean' | 'corrupted' | 'difference' | 'cell';

export interface PairRow {
  index: number;
  line: number;
  clean: number;
  corrupted: number;
  /** clean − corrupted: how much the corruption moves the metric. */
  difference: number;
  /** The selected cell's per-pair value, when a cell is selected. */
  cell?: number;
}

/** Rows of the pairs table, sorted by `column` (NaN and missing last, ties by pair index). */
export function sortPairRows(rows: PairRow[], column: PairColumn, descending: boolean): PairRow[] {
  const key = (r: PairRow) => (column === 'index' ? r.index : r[column]);
  return [...rows].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const bad = (v: number | undefined) => v === undefined || Number.isNaN(v);
    if (bad(x) || bad(y)) return bad(x) === bad(y) ? a.index - b.index : bad(x) ? 1 : -1;
    return (descending ? y! - x! : x! - y!) || a.index - b.index;
  });
}

/** Most pairs a link carries (the permalink schema's limit, the editor's). */
export const MAX_LINK_PAIRS = 16;

/**
 * What a link can carry of a dataset: its pairs (when at most MAX_LINK_PAIRS plain pairs; the codec compresses them
 * and refuses a fragment over its size limit), or why not. A link never carries part of a dataset.
 */
export function datasetLinkPairs(d: Dataset): { pairs: PromptPair[] } | { reason: string } {
  if (d.records.length > MAX_LINK_PAIRS) {
    return { reason: `The dataset ${d.name} (${d.records.length} pairs) is not in the link: a link carries at most ${MAX_LINK_PAIRS} pairs. Share the file (Export JSONL) with the link; the link holds the prompts typed in the editor.` };
  }
  if (!d.records.every(plainRecord)) {
    return { reason: `The dataset ${d.name} is not in the link: its per-pair positions or embedding noise cannot go in a link. Share the file (Export JSONL) with the link; the link holds the prompts typed in the editor.` };
  }
  return { pairs: d.records.map(pairOf) };
}
