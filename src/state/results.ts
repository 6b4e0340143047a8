// Results live here, outside reactive state: the store holds a run id and a version number, the Float64Arrays sit
// in this cache keyed by run id (STYLE.md: keep big arrays out of the store).
import { ESTIMATORS, type Method } from '../engine/patching/estimators';
import type { ExperimentSpec, Family, Labelled } from '../engine/patching/types';
import type { ModelChoice } from './models';
import type { PairLabelled, PairRecord } from '../engine/patching/dataset';

export interface RunResult {
  id: number;
  /** The exact spec the numbers belong to (clicks and sweeps patch with this, not with the live editor). */
  spec: ExperimentSpec;
  /** The model it was computed on; clicks and sweeps refuse to patch on another (see ModelState.loadedKey). */
  model: ModelChoice;
  modelKey: string;
  metric: { clean: number; corrupted: number };
  /** Token labels for position axes (pair 1's clean prompt) and each prompt's tokens for the editor. */
  tokens: string[];
  corruptedTokens: string[];
  attribution: Partial<Record<Family, Labelled>>;
  /** Exact activation patches, same layouts as `attribution`, NaN where not computed yet. */
  patched: Partial<Record<Family, Labelled>>;
  /** Clean-only attention attribution (pattern * grad on the clean prompt), computed on demand. */
  cleanAttention?: Labelled;
  elapsedMs: number;
  /** The estimator `attribution` holds (issue 12); older callers mean plain AtP. */
  method?: Method;
  steps?: number;
  /**
   * "Attribute on top" (issue 11): cells patched in the base run before anything was computed; every number of the
   * run (attribution, exact patches, joint patches, Verify top K) is on that patched run. Absent: the plain run.
   */
  onTop?: { family: Family; index: number[] }[];
  /** Every estimator computed for this run, by estimatorKey (the run's own included), for the scatter tab. */
  estimates?: Record<string, Partial<Record<Family, Labelled>>>;
  /** Standard error of the mean over pairs, per family, while the views show all pairs (issue 13). */
  sem?: Partial<Record<Family, Labelled>>;
  /** A run over several pairs (issue 13): every pair's values; the fields above hold the pair on screen. */
  pairs?: RunPairs;
}

/** What the views read for one pair (or all pairs): swapped into a RunResult when the pair selector changes. */
export type PairView = Pick<RunResult, 'spec' | 'metric' | 'tokens' | 'corruptedTokens' | 'attribution' | 'patched' | 'cleanAttention' | 'estimates' | 'sem'>;

export interface RunPairs {
  /** Dataset name ("typed pairs" for the editor's own). */
  name: string;
  records: PairRecord[];
  /** The spec of all pairs: the editor's metric, direction and options with the dataset's pairs. */
  allSpec: ExperimentSpec;
  metricPerPair: { clean: Float64Array; corrupted: Float64Array };
  perPair: Partial<Record<Family, PairLabelled>>;
  /** Each pair's display tokens. */
  tokens: { clean: string[]; corrupted: string[] }[];
  /** The pair on screen: null = all pairs (mean). */
  shown: number | null;
  /** Views already built, by pair ("all" or the index), with their exact patches. */
  views: Map<string, PairView>;
  /** Why exact patches cannot run on this dataset (per-pair positions or embedding noise), or null. */
  unpatchable: string | null;
}

/** The key of an estimator in a run's `estimates`: "atp", "atp-star", "ig-inputs:8". */
export function estimatorKey(method: Method, steps = 1): string {
  return ESTIMATORS[method].steps ? `${method}:${steps}` : method;
}

/** "AtP*", "IG (inputs), 8 steps". */
export function estimatorLabel(method: Method = 'atp', steps = 1): string {
  return ESTIMATORS[method].steps ? `${ESTIMATORS[method].title}, ${steps} step${steps === 1 ? '' : 's'}` : ESTIMATORS[method].title;
}

/** The estimates of a run by key; the run's own attribution is always among them. */
export function runEstimates(r: RunResult): Record<string, Partial<Record<Family, Labelled>>> {
  return { [estimatorKey(r.method ?? 'atp', r.steps ?? 1)]: r.attribution, ...r.estimates };
}

/** The inverse of estimatorKey. */
export function parseEstimatorKey(key: string): { method: Method; steps: number } {
  const [method, steps] = key.split(':');
  return { method: method as Method, steps: steps ? Number(steps) : 1 };
}

const runs = new Map<number, RunResult>();
let nextId = 1;
const KEEP = 4;

export function newRunId(): number {
  return nextId++;
}

export function putRun(r: RunResult): void {
  runs.set(r.id, r);
  // Older runs are only needed while the UI still shows them; keep the last few.
  while (runs.size > KEEP) runs.delete(runs.keys().next().value!);
}

export function getRun(id: number | null | undefined): RunResult | undefined {
  return id == null ? undefined : runs.get(id);
}

/** Row-major offset of `index` in an array of `shape` (throws when out of range). */
export { ravel as flatIndex } from '../engine/patching/labelled';

export function emptyLike(l: Labelled): Labelled {
  return { axes: [...l.axes], shape: [...l.shape], data: new Float64Array(l.data.length).fill(NaN) };
}

/** The patched array of a family, created (all NaN) on first use. */
export function patchedFor(r: RunResult, family: Family): Labelled | undefined {
  const a = r.attribution[family];
  if (!a) return undefined;
  return (r.patched[family] ??= emptyLike(a));
}

/** Writes values into the patched array by replacing it (new object), so memoised views see a change. */
export function writePatched(r: RunResult, family: Family, flat: number[], values: ArrayLike<number>): void {
  const old = patchedFor(r, family);
  if (!old) return;
  const data = new Float64Array(old.data);
  flat.forEach((f, i) => { data[f] = values[i]; });
  r.patched[family] = { axes: old.axes, shape: old.shape, data };
}

export function scaled(l: Labelled, k: number): Labelled {
  if (k === 1) return l;
  const data = new Float64Array(l.data.length);
  for (let i = 0; i < data.length; i++) data[i] = l.data[i] * k;
  return { axes: l.axes, shape: l.shape, data };
}
