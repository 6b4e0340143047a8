// `--pairs FILE` on the commands whose results are not patch families (edges, path, circuit, inspect): each pair
// runs on its own (pairs of any token lengths: these results have no position axis), and every numeric leaf of the
// command's result gets its mean over pairs, its standard error (sample standard deviation / sqrt(n); 0 for one
// pair) and its per-pair values, as attribute and patch give for families:
//   result key -> mean (same layout), per_pair: key -> [pair][...layout], sem: key -> layout.
// Leaves that are not numbers (token texts, names) are kept per pair only.
import type { DatasetSummary, Experiment, PairRecord } from '../engine/patching';
import { pairProgress, pairsHeader } from './pairs';

type Json = unknown;

/** Runs `fn` for each pair's own experiment, in order, with progress on stderr. */
export async function eachPair<T>(what: string, exps: Experiment[], fn: (exp: Experiment, i: number) => Promise<T>): Promise<T[]> {
  const progress = pairProgress(what);
  const out: T[] = [];
  try {
    progress.update(0, exps.length);
    for (let i = 0; i < exps.length; i++) {
      out.push(await fn(exps[i], i));
      progress.update(i + 1, exps.length);
    }
  } finally {
    progress.stop();
  }
  return out;
}

const isNumeric = (x: Json): boolean =>
  typeof x === 'number' || (Array.isArray(x) && x.length > 0 && x.every(isNumeric)) || (ArrayBuffer.isView(x) && !(x instanceof DataView)) ||
  (x !== null && typeof x === 'object' && !Array.isArray(x) && Object.values(x as object).length > 0 && Object.values(x as object).every(isNumeric));

/** Labelled results ({axes, shape, data}) as nested arrays, so that their numbers average like any other. */
function plain(x: Json): Json {
  if (x !== null && typeof x === 'object' && (x as { data?: unknown }).data instanceof Float64Array && Array.isArray((x as { shape?: unknown }).shape)) {
    const { shape, data } = x as { shape: number[]; data: Float64Array };
    const nest = (axis: number, offset: number): Json => {
      if (axis === shape.length) return data[offset];
      const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: shape[axis] }, (_, i) => nest(axis + 1, offset + i * stride));
    };
    return nest(0, 0);
  }
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object' && !ArrayBuffer.isView(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  return x;
}

/** Mean and sem over pairs of structures of one shape (nested arrays / objects of numbers). */
export function meanSem(values: Json[]): { mean: Json; sem: Json } {
  const first = values[0];
  if (typeof first === 'number') {
    const xs = values as number[];
    const n = xs.length;
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const sem = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) / n) : 0;
    return { mean, sem };
  }
  if (Array.isArray(first) || ArrayBuffer.isView(first)) {
    const arrays = values.map((v) => Array.from(v as ArrayLike<number>));
    if (arrays.some((a) => a.length !== arrays[0].length)) throw new Error('meanSem: per-pair results of different lengths.');
    const parts = arrays[0].map((_, i) => meanSem(arrays.map((a) => a[i])));
    return { mean: parts.map((p) => p.mean), sem: parts.map((p) => p.sem) };
  }
  const keys = Object.keys(first as object);
  const parts = keys.map((k) => meanSem(values.map((v) => (v as Record<string, Json>)[k])));
  return { mean: Object.fromEntries(keys.map((k, i) => [k, parts[i].mean])), sem: Object.fromEntries(keys.map((k, i) => [k, parts[i].sem])) };
}

/**
 * The JSON of a dataset run of such a command: the tokens and metrics per pair (as attribute --pairs), the fixed
 * keys (`fixed`, e.g. senders and receivers), the mean of each numeric result key, `per_pair` and `sem`.
 */
export async function perPairJson(
  exps: Experiment[], records: PairRecord[], metrics: { clean: number; corrupted: number }[], results: Record<string, Json>[], fixed: object = {},
): Promise<object> {
  const n = exps.length;
  const metricPerPair = { clean: Float64Array.from(metrics, (m) => m.clean), corrupted: Float64Array.from(metrics, (m) => m.corrupted) };
  const avg = (a: Float64Array) => a.reduce((s, x) => s + x, 0) / n;
  const summary: DatasetSummary = { metric: { clean: avg(metricPerPair.clean), corrupted: avg(metricPerPair.corrupted) }, metricPerPair, mean: {}, perPair: {}, sem: {} };
  const mean: Record<string, Json> = {};
  const sem: Record<string, Json> = {};
  const perPair: Record<string, Json[]> = {};
  for (const key of Object.keys(results[0])) {
    const values = results.map((r) => plain(r[key]));
    perPair[key] = values;
    if (values.every(isNumeric)) ({ mean: mean[key], sem: sem[key] } = meanSem(values));
  }
  return { ...(await pairsHeader(exps, records, summary)), ...fixed, ...mean, per_pair: perPair, sem };
}
