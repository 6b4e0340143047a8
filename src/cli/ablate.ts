// `patch --mode zero|mean|resample` and `attribute --mode zero|mean` (issue 13, item 4): ablations of the clean run by
// default (`--ablate corrupted` for the other), values = metric(ablated run) - metric(run), "ablated_run" in the JSON.
// The mean (per position) and the resampled prompts come from `--reference FILE` (a pairs file; its clean prompts),
// by default from every prompt of the experiment, clean and corrupted; resample draws with `--seed`.
import { encode } from '../engine/model/tokenizer';
import {
  ablatedExperiment, ablationSweepPairs, checkMeanAblation, familyHooks, meanActivations, referenceLength,
  type AblatedRun, type AblationMode, type Experiment, type Family, type PatchingEngine,
} from '../engine/patching';
import type { Feed } from '../engine/runtime/types';
import { readPairs } from './pairs';

export interface AblateOpts {
  ablate: AblatedRun;
  reference?: string;
  seed: number;
  bos: boolean;
}

export class ReferenceError extends Error {
  override readonly name = 'ReferenceError';
}

/** The reference prompts by token length: --reference's clean prompts, or every prompt of the experiment. */
export class References {
  private byLength = new Map<number, number[][]>();
  private means = new Map<string, Promise<Map<string, Feed>>>();
  readonly source: string;

  constructor(
    private readonly engine: PatchingEngine,
    o: AblateOpts,
    exps: Experiment[],
  ) {
    let prompts: number[][];
    if (o.reference !== undefined) {
      const records = readPairs(o.reference);
      prompts = records.map((r) => encode(r.clean, { prependBos: o.bos }));
      const bad = prompts.findIndex((p) => p.some((id) => id >= engine.cfg.dVocab) || p.length > engine.cfg.nCtx);
      if (bad >= 0) throw new ReferenceError(`${o.reference} line ${records[bad].line}, field "clean": the prompt has tokens this model cannot embed or is longer than ${engine.cfg.nCtx} tokens.`);
      this.source = o.reference;
    } else {
      // Multi-token answers: each pair's two rows are its prompt followed by a continuation; the prompts are the references.
      const prompts_ = (rows: number[][], e: Experiment) => (e.forced ? rows.filter((_, r) => r % 2 === 0).map((row) => row.slice(0, e.forced!.promptLength)) : rows);
      prompts = exps.flatMap((e) => [...prompts_(e.clean, e), ...prompts_(e.corrupted, e)]);
      this.source = 'the prompts (clean and corrupted)';
    }
    for (const p of prompts) {
      if (!this.byLength.has(p.length)) this.byLength.set(p.length, []);
      this.byLength.get(p.length)!.push(p);
    }
  }

  /** Reference prompts of `nPos` tokens (per-position mean and resample need equal lengths). */
  ofLength(nPos: number): number[][] {
    const list = this.byLength.get(nPos);
    if (!list?.length)
      throw new ReferenceError(`${this.source} has no prompt of ${nPos} tokens; the mean is taken per position, so the reference prompts need the pairs' length (it has ${[...this.byLength.keys()].sort((a, b) => a - b).join(', ')} tokens).`);
    return list;
  }

  meansOf(nPos: number, families: Family[]): Promise<Map<string, Feed>> {
    const key = `${nPos}:${families.join(',')}`;
    if (!this.means.has(key)) this.means.set(key, meanActivations(this.engine.rt, this.engine.cfg, this.ofLength(nPos), familyHooks(this.engine.cfg, families)));
    return this.means.get(key)!;
  }

  count(): number {
    return [...this.byLength.values()].reduce((a, l) => a + l.length, 0);
  }
}

/** Per-batch exact ablation of every family, for runBatches: per-pair values and the runs' metrics. */
export function ablationRun(engine: PatchingEngine, refs: References, mode: AblationMode, o: AblateOpts, families: Family[]) {
  return async (exp: Experiment, pairIndices: number[]) => {
    const values: Record<string, unknown> = {};
    let run: ArrayLike<number> = [];
    if (mode === 'mean') checkMeanAblation(exp);
    const means = mode === 'mean' ? await refs.meansOf(exp.nPos, families) : undefined;
    const reference = mode === 'resample' ? refs.ofLength(referenceLength(exp)) : undefined;
    for (const f of families) {
      const r = await ablationSweepPairs((e, fam, opts) => engine.sweepPairs(e, fam, opts), exp, f, { mode, ablated: o.ablate, means, reference, seed: o.seed, pairIndices });
      values[f] = r.values;
      run = r.run;
    }
    // Only the ablated run's metric is measured (values are relative to it); the other run's is null.
    const none = new Float64Array(exp.nPairs).fill(NaN);
    const metric = o.ablate === 'clean' ? { clean: run, corrupted: none } : { clean: none, corrupted: run };
    return { metric, values: values as never };
  };
}

/** Per-batch attribution of an ablation of the ablated run, for runBatches. */
export function ablationAttributionRun(engine: PatchingEngine, refs: References, mode: 'zero' | 'mean', o: AblateOpts, families: Family[]) {
  return async (exp: Experiment) => {
    if (mode === 'mean') checkMeanAblation(exp);
    const reference = mode === 'mean' ? await refs.meansOf(exp.nPos, families) : undefined;
    const r = await engine.attribute(ablatedExperiment(exp, o.ablate), { families, mode, reference, perPair: true });
    return { metric: r.pairs!.metric, values: r.pairs!.values };
  };
}
