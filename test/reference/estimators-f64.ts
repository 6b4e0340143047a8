// Reference estimators, written from the definitions of issue #12 (AtP* of Kramár et al. 2024; EAP-IG of Hanna et
// al. 2024) on the float64 reference: gradients by central finite differences of reference runs, attention
// patterns recomputed by plain loops, cells from cells-f64.ts. Nothing is imported from src/engine/patching. Gradients
// come from the float64 backward (backward-f64.ts, checked against finite differences in backward-f64.test.ts).
// Metric: logit difference at the final position, averaged over pairs (only that row is unembedded).
import type { GPT2Config, Weights } from '../../src/engine/model/types';
import { refCell, refIndices } from './cells-f64';
import { referenceForwardF64, toFloat64Weights, type HookFn, type WeightsF64 } from './gpt2-f64';
import { logitDiffTerms, referenceBackwardF64 } from './backward-f64';
import { logitDiff } from './metrics-f64';

export interface RefPair {
  base: number[];
  source: number[];
  answer: number;
  wrong: number;
}

type Hooks = Record<string, HookFn>;

interface Ctx {
  cfg: GPT2Config;
  w: WeightsF64;
  pairs: RefPair[];
  /** Only these cells of the family (default: every cell), for models where full finite differences are slow. */
  only?: number[][];
}

export function refContext(cfg: GPT2Config, weights: Weights, pairs: RefPair[]): Ctx {
  return { cfg, w: toFloat64Weights(cfg, weights), pairs };
}

/** A run of the reference; runs without hooks are memoised per context (every estimator reads the same two). */
const plainRuns = new WeakMap<Ctx, Map<string, ReturnType<typeof referenceForwardF64>>>();
function run(ctx: Ctx, tokens: number[], hooks: Hooks = {}) {
  const go = () => referenceForwardF64(ctx.cfg, ctx.w, tokens, { hooks, logitPositions: [tokens.length - 1] });
  if (Object.keys(hooks).length) return go();
  if (!plainRuns.has(ctx)) plainRuns.set(ctx, new Map());
  const runs = plainRuns.get(ctx)!;
  const key = tokens.join(',');
  if (!runs.has(key)) runs.set(key, go());
  return runs.get(key)!;
}

function metricOf(ctx: Ctx, pair: RefPair, hooks: Hooks): number {
  const P = pair.base.length;
  return logitDiff(run(ctx, pair.base, hooks).logits, P, ctx.cfg.dVocab, pair.answer, pair.wrong);
}

/**
 * d metric / d hook on the base run of pair b with `edits` applied (replacements by constants) and `held` hooks
 * passing no gradient to their inputs (a stop-gradient), every hook at once: the float64 backward of
 * backward-f64.ts, itself checked against finite differences. Memoised per context, pair and setting `key`.
 */
const memo = new WeakMap<Ctx, Map<string, Map<string, Float64Array>>>();
function gradsOf(ctx: Ctx, b: number, key: string, edits: Hooks = {}, held: string[] = []): Map<string, Float64Array> {
  if (!memo.has(ctx)) memo.set(ctx, new Map());
  const byKey = memo.get(ctx)!;
  const k = `${b}|${key}`;
  if (!byKey.has(k)) {
    const pair = ctx.pairs[b];
    byKey.set(k, referenceBackwardF64(ctx.cfg, ctx.w, pair.base, logitDiffTerms(pair.base.length, pair.answer, pair.wrong), { hooks: edits, held }).grads);
  }
  return byKey.get(k)!;
}

const pick = (g: Float64Array, entries: number[]) => Float64Array.from(entries, (e) => g[e]);

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Per pair and cell: (source - base) . gradient over the cell's entries, with the gradient given per hook. */
function linear(ctx: Ctx, family: string, pairIndex: number, gradFor: (hook: string, entries: number[]) => Float64Array): number[] {
  const { cfg } = ctx;
  const pair = ctx.pairs[pairIndex];
  const P = pair.base.length;
  const base = run(ctx, pair.base).cache;
  const src = run(ctx, pair.source).cache;
  const cells = (ctx.only ?? refIndices(family, cfg, P)).map((cell) => refCell(family, cfg, P, cell));
  // The gradient at every entry some cell needs, one hook at a time: entry -> value.
  const grads = new Map<string, Map<number, number>>();
  for (const { hook } of cells) {
    if (grads.has(hook)) continue;
    const entries = [...new Set(cells.filter((c) => c.hook === hook).flatMap((c) => c.entries))];
    const g = gradFor(hook, entries);
    grads.set(hook, new Map(entries.map((e, i) => [e, g[i]])));
  }
  return cells.map(({ hook, entries }) => {
    const g = grads.get(hook)!;
    const [b, s] = [base.get(hook)!.data, src.get(hook)!.data];
    return entries.reduce((acc, e) => acc + (s[e] - b[e]) * g.get(e)!, 0);
  });
}

const meanOver = (rows: number[][]) => rows[0].map((_, i) => rows.reduce((a, r) => a + r[i], 0) / rows.length);

/** Plain AtP. */
export function refAtp(ctx: Ctx, family: string): number[] {
  return meanOver(ctx.pairs.map((_, b) => linear(ctx, family, b, (hook, entries) => pick(gradsOf(ctx, b, 'plain').get(hook)!, entries))));
}

/** GradDrop pass l: no gradient through blocks.l.hook_attn_out / hook_mlp_out into their inputs (values kept). */
const dropped = (l: number) => [`blocks.${l}.hook_attn_out`, `blocks.${l}.hook_mlp_out`];

/** |.| per pair, averaged over pairs, summed over passes, / (L - 1). */
function gradDropOf(ctx: Ctx, perPass: (l: number, b: number) => number[]): number[] {
  const L = ctx.cfg.nLayers;
  const total = perPass(0, 0).map(() => 0);
  for (let l = 0; l < L; l++)
    for (let b = 0; b < ctx.pairs.length; b++)
      perPass(l, b).forEach((x, i) => (total[i] += Math.abs(x) / ctx.pairs.length / (L - 1)));
  return total;
}

export function refGradDrop(ctx: Ctx, family: string): number[] {
  return gradDropOf(ctx, (l, b) => linear(ctx, family, b, (hook, entries) => pick(gradsOf(ctx, b, `drop ${l}`, {}, dropped(l)).get(hook)!, entries)));
}

/** Causal softmax attention of one head from q, k [pos, head_index, d_head]: pattern [query_pos, key_pos]. */
function attention(cfg: GPT2Config, q: Float64Array, k: Float64Array, head: number, P: number): Float64Array {
  const { nHeads: H, dHead: dh } = cfg;
  const A = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    const s: number[] = [];
    for (let j = 0; j <= i; j++) {
      let d = 0;
      for (let c = 0; c < dh; c++) d += q[(i * H + head) * dh + c] * k[(j * H + head) * dh + c];
      s.push(d / Math.sqrt(dh));
    }
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, x) => a + x, 0);
    e.forEach((x, j) => (A[i * P + j] = x / z));
  }
  return A;
}

/**
 * QK fix of one pair for q, k, q_by_pos, k_by_pos: sum over (query, key) of (A_patched - A_base) * dM/dA at the
 * base run, A_patched the exact pattern with the cell's queries (keys) from the source run.
 */
function qkFixPair(ctx: Ctx, family: string, b: number, drop?: number): number[] {
  const { cfg } = ctx;
  const pair = ctx.pairs[b];
  const P = pair.base.length;
  const base = run(ctx, pair.base).cache;
  const src = run(ctx, pair.source).cache;
  const grads = drop === undefined ? gradsOf(ctx, b, 'plain') : gradsOf(ctx, b, `drop ${drop}`, {}, dropped(drop));
  return (ctx.only ?? refIndices(family, cfg, P)).map(([l, h, p]) => {
    const G = grads.get(`blocks.${l}.attn.hook_pattern`)!; // dM/dA [head_index, query_pos, key_pos]
    const [qb, kb] = [base.get(`blocks.${l}.attn.hook_q`)!.data, base.get(`blocks.${l}.attn.hook_k`)!.data];
    const [qs, ks] = [src.get(`blocks.${l}.attn.hook_q`)!.data, src.get(`blocks.${l}.attn.hook_k`)!.data];
    const Ab = attention(cfg, qb, kb, h, P);
    let q = qb;
    let k = kb;
    let rows = all(P);
    if (family === 'q') q = qs;
    else if (family === 'k') k = ks;
    else if (family === 'q_by_pos') [q, rows] = [qs, [p]];
    else if (family === 'k_by_pos') {
      // The key at position p from the source run, every other key from the base run.
      k = kb.slice();
      const { nHeads: H, dHead: dh } = cfg;
      for (let c = 0; c < dh; c++) k[(p * H + h) * dh + c] = ks[(p * H + h) * dh + c];
    } else throw new Error(`reference QK fix: ${family}`);
    const Ap = attention(cfg, q, k, h, P);
    let sum = 0;
    for (const i of rows) for (let j = 0; j < P; j++) sum += (Ap[i * P + j] - Ab[i * P + j]) * G[(h * P + i) * P + j];
    return sum;
  });
}

export const QK = ['q', 'k', 'q_by_pos', 'k_by_pos'];

export function refQkFix(ctx: Ctx, family: string): number[] {
  return QK.includes(family) ? meanOver(ctx.pairs.map((_, b) => qkFixPair(ctx, family, b))) : refAtp(ctx, family);
}

export function refAtpStar(ctx: Ctx, family: string): number[] {
  return QK.includes(family) ? gradDropOf(ctx, (l, b) => qkFixPair(ctx, family, b, l)) : refGradDrop(ctx, family);
}

/** Hook edit: value -> base + alpha * (source - base), from the given base and source values. */
const interpolate = (from: Float64Array, to: Float64Array, alpha: number): HookFn => () => from.map((x, i) => x + alpha * (to[i] - x));

/** IG on the inputs: embeddings (blocks.0.hook_resid_pre) interpolated; gradients at every hook averaged over m. */
export function refIgInputs(ctx: Ctx, family: string, m: number): number[] {
  return meanOver(ctx.pairs.map((pair, b) => {
    const e0 = 'blocks.0.hook_resid_pre';
    const [from, to] = [run(ctx, pair.base).cache.get(e0)!.data, run(ctx, pair.source).cache.get(e0)!.data];
    return linear(ctx, family, b, (hook, entries) => {
      const mean = new Float64Array(entries.length);
      for (let k = 0; k < m; k++) pick(gradsOf(ctx, b, `ig-inputs ${k}/${m}`, { [e0]: interpolate(from, to, k / m) }).get(hook)!, entries).forEach((g, i) => (mean[i] += g / m));
      return mean;
    });
  }));
}

/** IG per layer: the family's hook at that layer alone interpolated, everything downstream recomputed. */
export function refIgLayer(ctx: Ctx, family: string, m: number): number[] {
  return meanOver(ctx.pairs.map((pair, b) => {
    return linear(ctx, family, b, (hook, entries) => {
      const [from, to] = [run(ctx, pair.base).cache.get(hook)!.data, run(ctx, pair.source).cache.get(hook)!.data];
      const mean = new Float64Array(entries.length);
      for (let k = 0; k < m; k++) pick(gradsOf(ctx, b, `ig-layer ${hook} ${k}/${m}`, { [hook]: interpolate(from, to, k / m) }).get(hook)!, entries).forEach((g, i) => (mean[i] += g / m));
      return mean;
    });
  }));
}

/** The exact patch of a whole hook at one layer (every entry from the source run), mean over pairs. */
export function refPatchWhole(ctx: Ctx, hook: string): number {
  let total = 0;
  for (const pair of ctx.pairs) {
    const v = run(ctx, pair.source).cache.get(hook)!.data;
    total += metricOf(ctx, pair, { [hook]: () => v.slice() }) - metricOf(ctx, pair, {});
  }
  return total / ctx.pairs.length;
}
