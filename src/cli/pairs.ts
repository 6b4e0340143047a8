// `--pairs FILE` (issue 13, item 1): a dataset of prompt pairs (JSONL or CSV, dataset.ts) instead of one pair.
// The file is parsed before the model loads, every pair is resolved before anything runs (so a bad line costs
// nothing), pairs run in batches of one token length with a progress bar on stderr, and the output holds the mean
// (as for one pair), `per_pair` ([pair][...layout]) and `sem` per family, and `tokens` with one entry per pair.
import { readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { perTokenPairs } from './forced';
import { formatMetric } from '../engine/patching/metric-spec';
import {
  datasetFormat, parsePairs, resolvePairs, runBatches,
  type DatasetSummary, type Experiment, type ExperimentSpec, type Family, type PairLabelled, type PairRecord, type PatchingEngine,
} from '../engine/patching';

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Thrown for a pairs file that cannot be read; exits 2 like every input error. */
export class PairsFileError extends Error {
  override readonly name = 'PairsFileError';
}

/** Reads and parses a pairs file (DatasetError names each bad line and field). */
export function readPairs(path: string): PairRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PairsFileError(`Cannot read the pairs file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
  }
  return parsePairs(text, datasetFormat(path, text), path);
}

export function resolveRecords(records: PairRecord[], spec: Omit<ExperimentSpec, 'pairs'>, engine: PatchingEngine, path: string): Experiment[] {
  const exps = resolvePairs(records, spec, engine.cfg, path, { teacherForcing: true });
  const warned = exps.flatMap((e, i) => (e.warnings ?? []).map((w) => `line ${records[i].line}: ${w}`));
  for (const w of warned.slice(0, 5)) log(`warning: ${w}`);
  if (warned.length > 5) log(`warning: ... and ${warned.length - 5} more`);
  return exps;
}

/** Progress over pairs: a bar on a terminal; plain lines (at most one every 2 s) in a file or pipe. */
export function pairProgress(what: string) {
  const t0 = performance.now();
  const seconds = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: ` ${what} [{bar}] {value}/{total} pairs | {duration}s | eta {eta}s`, hideCursor: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done: number, total: number) {
        if (!started) bar.start(total, done);
        started = true;
        bar.update(done);
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = t0;
  let [finished, total] = [0, 0];
  return {
    update(done: number, n: number) {
      [finished, total] = [done, n];
      if (performance.now() - last >= 2000 && done < n) {
        last = performance.now();
        log(`${what}: ${done}/${n} pairs, ${seconds()}`);
      }
    },
    stop: () => finished === total && total > 0 && log(`${what}: ${total} pairs in ${seconds()}`),
  };
}

/** Runs `run` over the dataset's batches with a progress bar. */
export async function runPairs(
  what: string,
  exps: Experiment[],
  families: Family[],
  run: Parameters<typeof runBatches>[2],
  maxPairs?: number,
): Promise<DatasetSummary> {
  const progress = pairProgress(what);
  try {
    return await runBatches(exps, families, run, { maxPairs, onProgress: progress.update });
  } finally {
    progress.stop();
  }
}

/**
 * The JSON header of a dataset run: one tokens entry per pair, the mean metrics and each pair's. A pair with a
 * multi-token answer (teacher forcing) lists its prompts' own tokens, its answer and wrong token lists, and its
 * per-token log-probs (`per_token`, when the engine is given).
 */
export async function pairsHeader(exps: Experiment[], records: PairRecord[], res: DatasetSummary, engine?: PatchingEngine) {
  const { spec } = exps[0];
  const perToken = engine ? await perTokenPairs(engine, exps) : undefined;
  return {
    tokens: exps.map((e, i) => ({
      line: records[i].line,
      ...(e.forced
        ? { clean: e.clean[0].slice(0, e.forced.promptLength), corrupted: e.corrupted[0].slice(0, e.forced.promptLength), answer: e.forced.answer[0], wrong: e.forced.wrong[0].length ? e.forced.wrong[0] : null }
        : { clean: e.clean[0], corrupted: e.corrupted[0], answer: e.answers[0] >= 0 ? e.answers[0] : null, wrong: e.wrongs[0] >= 0 ? e.wrongs[0] : null }),
      ...(spec.metric.name === 'mean_logprob' ? { positions: e.positions } : {}),
      ...(perToken?.[i] ? { per_token: perToken[i] } : {}),
      ...(res.alignment ? { offset: res.alignment.offsets[i] } : {}),
    })),
    // Several lengths: positions aligned from the end (engine/patching/alignment.ts); pairs per cell.
    ...(res.alignment ? { position_alignment: 'end', count: res.alignment.count } : {}),
    n_pairs: exps.length,
    metric: {
      name: formatMetric(spec.metric),
      clean: res.metric.clean,
      corrupted: res.metric.corrupted,
      per_pair: { clean: res.metricPerPair.clean, corrupted: res.metricPerPair.corrupted },
    },
    direction: spec.direction,
  };
}

/** Exact patches per pair of each family, as runBatches wants them (metrics: clean / corrupted by direction). */
export function sweepRun(engine: PatchingEngine, families: Family[]) {
  return async (exp: Experiment) => {
    const values: Partial<Record<Family, PairLabelled>> = {};
    let metric = { clean: [] as ArrayLike<number>, corrupted: [] as ArrayLike<number> };
    for (const f of families) {
      const r = await engine.sweepPairs(exp, f);
      values[f] = r.values;
      metric = exp.spec.direction === 'denoising' ? { clean: r.metric.source, corrupted: r.metric.base } : { clean: r.metric.base, corrupted: r.metric.source };
    }
    return { metric, values };
  };
}
