// Exact ablations that mean what users expect (issue 13, item 4). An ablation replaces an activation of ONE run by
// zero, by its mean over a reference set of prompts (per position), or by its value on a reference prompt drawn at
// random (resample, seeded); the value is metric(ablated run) - metric(run). By default the clean run is ablated
// (the question is "what does the model need on the task?"); `ablated: 'corrupted'` ablates the other.
// Both are the activation patcher's and the attribution graph's "base" run: the clean run is the base run of the
// noising direction, so an ablation is a patch in that direction whose source values are the replacement.
import { Graph, ReduceSum } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Feed, Runtime } from '../runtime/types';
import { tokenFeed } from './attribution';
import type { Experiment } from './experiment';
import type { SweepOptions } from './activation';
import type { PairLabelled } from './dataset';
import { FAMILIES, hookFor, type Family } from './families';
import { mulberry32 } from '../model/checkpoint';

export type AblationMode = 'zero' | 'mean' | 'resample';
export type AblatedRun = 'clean' | 'corrupted';

/** The experiment whose base run is the one to ablate (clean: noising; corrupted: denoising). */
export function ablatedExperiment(exp: Experiment, ablated: AblatedRun): Experiment {
  return { ...exp, spec: { ...exp.spec, direction: ablated === 'clean' ? 'noising' : 'denoising' } };
}

/** Hooks read by the families at every layer. */
export function familyHooks(cfg: GPT2Config, families: readonly Family[] = FAMILIES): string[] {
  return [...new Set(families.flatMap((f) => Array.from({ length: cfg.nLayers }, (_, l) => hookFor(f, l))))];
}

/**
 * Mean of each hook over the reference prompts (all of one length), per position: [1, ...hook shape] as feeds.
 * Runs in batches of at most `batch` prompts; sums on the device, divides in float64.
 */
export async function meanActivations(rt: Runtime, cfg: GPT2Config, prompts: number[][], hooks: string[], batch = 16): Promise<Map<string, Feed>> {
  if (!prompts.length) throw new Error('Mean ablation needs at least one reference prompt.');
  const P = prompts[0].length;
  if (prompts.some((p) => p.length !== P)) throw new Error('meanActivations: the reference prompts must have one length.');
  const wanted = new Set(hooks);
  const sums = new Map<string, { shape: number[]; data: Float64Array }>();
  const S = Math.ceil(prompts.length / Math.ceil(prompts.length / batch));
  for (let k = 0; k < prompts.length; k += S) {
    const chunk = prompts.slice(k, k + S);
    const key = `refmean:${cfg.name}:${chunk.length}x${P}:${hooks.join(',')}`;
    const out = await rt.run(key, () => {
      const g = new Graph('reference-mean');
      const w = weightInputs(g, cfg);
      gpt2Forward(cfg, w, g.input('tokens', [chunk.length, P], 'int64'), (name, t) => {
        if (wanted.has(name)) g.output(ReduceSum(t, [0], true), `sum.${name}`); // [1, ...hook]
        return t;
      });
      return g;
    }, { tokens: tokenFeed(chunk) });
    for (const h of hooks) {
      const t = out[`sum.${h}`];
      const acc = sums.get(h) ?? { shape: t.shape, data: new Float64Array(t.data.length) };
      for (let i = 0; i < t.data.length; i++) acc.data[i] += t.data[i];
      sums.set(h, acc);
    }
  }
  const means = new Map<string, Feed>();
  for (const [h, { shape, data }] of sums) means.set(h, { dtype: 'float32', shape, data: Float32Array.from(data, (x) => x / prompts.length) });
  return means;
}

/** The per-pair replacement for zero or mean ablation: [N, ...hook shape], the mean repeated for every pair. */
export function replacementFeed(mode: 'zero' | 'mean', shape: number[], mean?: Feed): Feed {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  if (mode === 'mean') {
    const m = mean!.data as Float32Array;
    for (let i = 0; i < n; i += m.length) data.set(m, i);
  }
  return { dtype: 'float32', shape, data };
}

/** Seeded PRNG, uniform in [0, 1): the checkpoint generator's mulberry32. */
export const seededRandom = mulberry32;

/**
 * The reference prompt that dataset pair `pair` is resampled from: the first draw of a PRNG seeded by (seed, pair),
 * so a pair draws the same prompt whatever batch it runs in.
 */
export function resampleIndex(seed: number, pair: number, nReference: number): number {
  return Math.floor(seededRandom(seed * 1000003 + pair)() * nReference);
}

/**
 * Resample ablation as a patch: the run to ablate is the base run, and the source run is each pair's drawn
 * reference prompt (so its activations are the replacement, and the patcher's ordinary sweep is the ablation).
 */
export function resampleExperiment(exp: Experiment, ablated: AblatedRun, reference: number[][], indices: number[]): Experiment {
  // mean_logprob reads its targets from the clean prompt, which must stay the pair's own.
  if (ablated === 'corrupted' && (exp.spec.metric.name === 'mean_logprob' || exp.spec.metric.name === 'kl'))
    throw new Error(`Resample ablation of the corrupted run is not available with ${exp.spec.metric.name} (it reads the clean prompt).`);
  const length = referenceLength(exp);
  if (indices.some((i) => reference[i].length !== length)) throw new Error(`Resample ablation needs reference prompts of ${length} tokens.`);
  // Multi-token answers (teacher forcing): two rows per pair, each the prompt followed by one continuation; the
  // source row is the pair's drawn reference prompt followed by the same continuation tokens.
  const drawn = exp.forced
    ? exp.clean.map((row, r) => [...reference[indices[Math.floor(r / 2)]], ...row.slice(length)])
    : indices.map((i) => reference[i]);
  const e = ablatedExperiment(exp, ablated);
  return ablated === 'clean' ? { ...e, corrupted: drawn } : { ...e, clean: drawn };
}

export interface Ablation {
  mode: AblationMode;
  ablated: AblatedRun;
  /** Mean mode: each hook's mean over the reference prompts of this experiment's length (meanActivations). */
  means?: Map<string, Feed>;
  /** Resample mode: the reference prompts of this experiment's length, the seed, and each pair's dataset index. */
  reference?: number[][];
  seed?: number;
  pairIndices?: number[];
}

type SweepPairs = (exp: Experiment, family: Family, opts?: SweepOptions) => Promise<{ values: PairLabelled; metric: { base: ArrayLike<number>; source: ArrayLike<number> } }>;

/**
 * Exact ablation of every cell of a family, per pair: metric(ablated run) - metric(run). `metric` gives the run's
 * own metric per pair as `run`.
 */
/**
 * The token length of the prompts an ablation's reference set must have: the prompt's own, which for multi-token
 * answers (teacher forcing) is shorter than the fed rows by the continuation.
 */
export function referenceLength(exp: Experiment): number {
  return exp.forced ? exp.forced.promptLength : exp.nPos;
}

/**
 * Mean ablation takes a per-position mean over reference prompts of the pairs' length. With multi-token answers the
 * fed rows run past the prompt into the answer's tokens, where no reference prompt has a value, so it is refused
 * (zero and resample ablation work: resample continues the drawn prompt with the same answer tokens).
 */
export function checkMeanAblation(exp: Experiment): void {
  if (exp.forced)
    throw new Error('Mean ablation is not available with multi-token answers: the per-position mean comes from reference prompts, and teacher forcing feeds the answer\'s tokens past the prompt, where those prompts have no value. Use --mode zero or resample, or a one-token answer.');
}

export async function ablationSweepPairs(sweepPairs: SweepPairs, exp: Experiment, family: Family, ab: Ablation): Promise<{ values: PairLabelled; run: ArrayLike<number> }> {
  if (ab.mode === 'resample') {
    const ref = ab.reference ?? [];
    if (!ref.length) throw new Error('Resample ablation needs reference prompts.');
    const nPairs = exp.forced ? exp.nPairs / 2 : exp.nPairs;
    const idx = (ab.pairIndices ?? Array.from({ length: nPairs }, (_, i) => i)).map((p) => resampleIndex(ab.seed ?? 0, p, ref.length));
    const r = await sweepPairs(resampleExperiment(exp, ab.ablated, ref, idx), family);
    return { values: r.values, run: r.metric.base };
  }
  if (ab.mode === 'mean') checkMeanAblation(exp);
  if (ab.mode === 'mean' && !ab.means) throw new Error('Mean ablation needs the reference means.');
  const replacement = (hook: string, shape: number[]) => replacementFeed(ab.mode as 'zero' | 'mean', shape, ab.means?.get(hook));
  const r = await sweepPairs(ablatedExperiment(exp, ab.ablated), family, { replacement });
  return { values: r.values, run: r.metric.base };
}
