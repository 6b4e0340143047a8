// Attribution patching (Nanda 2023): every patch at once from one source forward, one base forward and one backward
// pass, all in ONE graph, reduced on the device so only [layer, ...] arrays leave it:
//   attribution(a) = sum over the patch's entries of (source_a - base_a) * d metric / d base_a.
// Denoising: base = corrupted, source = clean. Noising: base = clean, source = corrupted.
// Zero / mean ablation replace source_a by 0 / the mean over every prompt (clean and corrupted) at that position.
// The other estimators of estimators.ts are built here too, on the same runs, with R gradients per pair (copy-major
// rows, R x nPairs): IG on the inputs runs the base run as R copies with interpolated embeddings; GradDrop shares the
// one base forward and takes L backward passes, each with no gradient through one layer's outputs into their inputs
// (gradDropGradients); queries and keys may take the QK fix.
import {
  Add, Concat, Expand, Graph, Identity, MatMul, Mul, Neg, ReduceSum, Reshape, Slice, Sqrt, Sub, Transpose, Where, grad, mT, softmax,
  stopGradient, type Tensor,
} from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { int64Feed, type Feed, type Runtime } from '../runtime/types';
import { ESTIMATORS, QK_FAMILIES, checkMethod, type Method } from './estimators';
import { atLength, type Experiment } from './experiment';
import { runSymbolic, sizesWithin } from '../runtime/symbolic';
import { FAMILIES, cellAxes, familyAxes, familyShape, hookFor, type Family } from './families';
import type { Labelled } from './labelled';
import { meanOf, metricFeeds, metricInputs, metricRows } from './metrics';
import { maskNotUpstream, metricCapture } from './internal-metric';
import { formatMetric, isInternalMetric, metricHook, notUpstream } from './metric-spec';
import type { PairLabelled } from './dataset';
import type { CellPatch } from './node-sets';

export type AttributionMode = 'patch' | 'zero' | 'mean';

export interface AttributionRequest {
  families?: Family[];
  mode?: AttributionMode;
  /** Estimator (estimators.ts); default plain AtP. */
  method?: Method;
  /** Integrated-gradient steps m (alpha = k / m, k = 0 .. m-1); 1 = plain AtP. */
  steps?: number;
  /**
   * Cells already patched (from the source run) in the base run: attribution of that run, gradients included
   * (node-sets.ts, `attribute --patched`). The reported base metric is then the patched run's. Plain AtP only.
   */
  patched?: CellPatch;
  /** Also each pair's own values and metrics (datasets, dataset.ts). Plain AtP only. */
  perPair?: boolean;
  /**
   * Mean mode: each hook's mean over a reference set of prompts ([1, ...hook shape], ablation.ts meanActivations)
   * replaces the base activation. Without it, the mean over every prompt of the experiment, clean and corrupted.
   */
  reference?: Map<string, Feed>;
}

export interface AttributionResult {
  metric: { clean: number; corrupted: number };
  values: Partial<Record<Family, Labelled>>;
  method: Method;
  steps: number;
  /** With `perPair`: [pair, ...layout] per family, and each pair's metrics. */
  pairs?: { metric: { clean: Float64Array; corrupted: Float64Array }; values: Partial<Record<Family, PairLabelled>> };
}

export function tokenFeed(seqs: number[][]): Feed {
  return int64Feed(seqs.flat(), [seqs.length, seqs[0].length]);
}

/**
 * Per-entry scores A [batch, ...hook axes] of one layer summed to the family's layout without its layer axis: every
 * hook axis that a cell does not fix is summed (with the batch), the fixed ones are put in the result's order.
 */
export function reduceToLayout(family: Family, A: Tensor, keepBatch = false): Tensor {
  const byHookAxis = cellAxes(family); // result axis fixing each hook axis, or -1
  const summed = [...(keepBatch ? [] : [0]), ...byHookAxis.flatMap((r, h) => (r < 0 ? [h + 1] : []))];
  const reduced = summed.length ? ReduceSum(A, summed) : A; // (batch,) kept hook axes in hook order
  const kept = byHookAxis.filter((r) => r >= 0); // their result axes
  const lead = keepBatch ? 1 : 0;
  const order = kept.map((_, i) => i).sort((a, b) => kept[a] - kept[b]);
  if (order.every((o, i) => o === i)) return reduced;
  return Transpose(reduced, [...(keepBatch ? [0] : []), ...order.map((o) => o + lead)]);
}

/** The Gaussian-noise corruption's feed, when the experiment has one. */
export function noiseFeed(cfg: GPT2Config, exp: Experiment): Record<string, Feed> {
  return exp.noise ? { noise: { dtype: 'float32', shape: [exp.nPairs, exp.nPos, cfg.dModel], data: exp.noise.data } } : {};
}

/**
 * What a graph with symbolic sizes depends on (runtime/symbolic.ts): pairs, metric and its number of positions,
 * noise; not the prompt's length nor the metric positions, which are inputs.
 */
export function shapeKey(exp: Experiment): string {
  return `${exp.nPairs}:${formatMetric(exp.spec.metric)}:K${exp.positions.length}${exp.noise ? `:noise-${exp.spec.direction}` : ''}`;
}

export function experimentKey(exp: Experiment): string {
  const m = exp.spec.metric;
  return `${exp.nPairs}x${exp.nPos}:${formatMetric(m)}:${exp.positions.join('.')}${exp.noise ? `:noise-${exp.spec.direction}` : ''}${exp.forced ? ':forced' : ''}`; // noise goes into the corrupted run, base or source
}

export function attributionGraph(
  cfg: GPT2Config, exp: Experiment, families: Family[], mode: AttributionMode, method: Method = 'atp', steps = 1, patched?: CellPatch, perPair = false,
  referenceMean = false,
): Graph {
  if (perPair && method !== 'atp') throw new Error(`Per-pair attribution is plain AtP only, not ${method}.`);
  if (method !== 'atp' && mode !== 'patch') throw new Error(`The ${method} estimator approximates patches, not ${mode} ablation: use it with mode patch.`);
  if (patched && method !== 'atp') throw new Error(`Attribution on a patched run is plain AtP only, not ${method}.`);
  const g = new Graph('attribution');
  const w = weightInputs(g, cfg);
  const [N, L] = [exp.nPairs, cfg.nLayers];
  const tokens = { clean: g.input('tokens.clean', [N, exp.nPos], 'int64'), corrupted: g.input('tokens.corrupted', [N, exp.nPos], 'int64') };
  const mIn = metricInputs(g, cfg, exp, true);
  const { freezeLayerNorm, freezeAttention } = exp.spec.options;
  const denoising = exp.spec.direction === 'denoising';
  const [baseRole, sourceRole] = denoising ? (['corrupted', 'clean'] as const) : (['clean', 'corrupted'] as const);
  const frozen = (name: string) => (freezeLayerNorm && name.endsWith('hook_scale')) || (freezeAttention && name.endsWith('hook_pattern'));

  const dropping = method === 'graddrop' || method === 'atp-star';
  if (dropping && isInternalMetric(exp.spec.metric.name))
    throw new Error(`The ${method} estimator is not available for the ${exp.spec.metric.name} metric yet (its dropped layers assume a metric on the logits); use atp, qk-fix or ig.`);
  // Internal metrics read their hook's value (internal-metric.ts); the base run's is taken before any freeze, so
  // the metric itself keeps its gradient when attention patterns are frozen.
  const ownHook = metricHook(exp.spec.metric);
  const srcCap = metricCapture(cfg, exp);
  const baseCap = metricCapture(cfg, exp);
  if (dropping && L < 2) throw new Error(`${method} needs a model of at least 2 layers (it averages over L - 1).`);
  const qkFixed = (f: Family) => (method === 'qk-fix' || method === 'atp-star') && (QK_FAMILIES as readonly string[]).includes(f);
  // Forward copies of the base run (IG on the inputs: one per step) and gradients per pair (GradDrop: one per
  // dropped layer, all on the one base forward).
  const Rf = method === 'ig-inputs' ? steps : 1;
  const R = dropping ? L : Rf;
  const tileR = (t: Tensor, n = R) => (n === 1 ? t : Reshape(Expand(Reshape(t, [1, ...t.shape]), [n, ...t.shape]), [n * N, ...t.shape.slice(1)]));
  const perCopy = (f: (copy: number) => number) => g.constant(Array.from({ length: Rf * N }, (_, i) => f(Math.floor(i / N))), [Rf * N, 1, 1]);

  const needed = new Set<string>();
  for (const f of families)
    for (let l = 0; l < L; l++) {
      if (qkFixed(f)) for (const h of ['q', 'k', 'pattern']) needed.add(`blocks.${l}.attn.hook_${h}`);
      else needed.add(hookFor(f, l));
      if (method === 'ig-layer') needed.add(`blocks.${l}.hook_resid_pre`);
    }
  if (method === 'ig-inputs') needed.add('blocks.0.hook_resid_pre');

  // The source run: values only.
  const src = new Map<string, Tensor>();
  // With patched cells (node-sets.ts), the source run keeps their hooks' values and the base run takes them.
  const patchHooks = new Set(patched?.hooks);
  const patchSrc = new Map<string, Tensor>();
  // Gaussian-noise corruption: the corrupted run's token embeddings plus a fed constant.
  const noise = exp.noise ? g.input('noise', [N, exp.nPos, cfg.dModel]) : undefined;
  if (noise && (method !== 'atp' || patched)) throw new Error(`Gaussian-noise corruption works with plain attribution (atp), not ${patched ? '--patched' : method}.`);
  const noised = (role: string, name: string, t: Tensor) => (noise && role === 'corrupted' && name === 'hook_embed' ? Add(t, noise) : t);
  const srcOut = gpt2Forward(cfg, w, tokens[sourceRole], srcCap.wrap((name, t0) => {
    const t = noised(sourceRole, name, t0);
    if (needed.has(name)) src.set(name, t);
    if (patchHooks.has(name)) patchSrc.set(name, t);
    return t;
  }));
  const srcRows = metricRows(cfg, w, srcOut, exp, mIn, srcCap);
  g.output(meanOf(srcRows), `metric.${sourceRole}`);

  // The base run, Rf copies (copy 0 is the plain base run), and the gradient of the mean metric over all rows.
  const alphaInputs = method === 'ig-inputs' ? perCopy((k) => k / steps) : undefined;
  const base = new Map<string, Tensor>();
  // GradDrop: each layer's attn_out and mlp_out pass through an Identity that its backward pass stops at.
  const dropAt: Tensor[][] = Array.from({ length: L }, () => []);
  const residPost: Tensor[] = [];
  const baseOut = gpt2Forward(cfg, w, tileR(tokens[baseRole], Rf), (name, t0) => {
    const t = noised(baseRole, name, t0);
    let v = patched && patchHooks.has(name) ? patched.replace(name, t, patchSrc.get(name)!) : t;
    if (alphaInputs && name === 'blocks.0.hook_resid_pre') v = Add(t, Mul(alphaInputs, Sub(tileR(src.get(name)!, Rf), t)));
    const drop = dropping ? /^blocks\.(\d+)\.hook_(attn|mlp)_out$/.exec(name) : null;
    if (drop) dropAt[+drop[1]].push((v = Identity(v)));
    if (name === ownHook) baseCap.value = v;
    if (frozen(name)) v = stopGradient(v);
    if (needed.has(name)) base.set(name, v);
    const post = /^blocks\.(\d+)\.hook_resid_post$/.exec(name);
    if (post) residPost[+post[1]] = v;
    return v;
  });
  const baseRows = metricRows(cfg, w, baseOut, exp, mIn, baseCap); // [Rf * N]
  g.output(meanOf(Rf === 1 ? baseRows : Slice(baseRows, 0, 0, N)), `metric.${baseRole}`);
  if (perPair) {
    g.output(srcRows, `metric_rows.${sourceRole}`);
    g.output(baseRows, `metric_rows.${baseRole}`);
  }
  const first = (t: Tensor) => (Rf === 1 ? t : Slice(t, 0, 0, N)); // copy 0: the base run itself
  const hooks = [...needed];
  const loss = meanOf(baseRows);
  const gradOf = method === 'ig-layer' ? new Map<string, Tensor | null>()
    : dropping ? gradDropGradients(loss, hooks, base, residPost, dropAt)
      : new Map(grad(loss, hooks.map((h) => base.get(h)!)).map((t, i) => [hooks[i], t]));

  const delta = (hook: string): Tensor => {
    const b = first(base.get(hook)!);
    if (mode === 'zero') return Neg(b);
    if (mode === 'mean' && referenceMean) return Sub(g.input(`reference.${hook}`, [1, ...b.shape.slice(1)]), b);
    if (mode === 'mean') {
      const all = [src.get(hook)!, b].map((t) => ReduceSum(t, [0], true));
      return Sub(Mul(Add(all[0], all[1]), 1 / (2 * N)), b);
    }
    return Sub(src.get(hook)!, b);
  };

  // Per layer, a family's values per row [R * N, ...layout without layer]; then summed (signed estimators) or,
  // for GradDrop and AtP*, |.| per copy and pair averaged: (1/(L-1)) sum_l mean_b |AtP_l(b)|, where
  // AtP_l(b) = N * (row value), the loss being the mean over the base run's N rows.
  const igLayer = method === 'ig-layer' ? integratedLayers(cfg, w, exp, mIn, families, steps, base, src, frozen) : undefined;
  const perRow = (f: Family, l: number): Tensor => {
    if (igLayer) return igLayer(f, l);
    if (qkFixed(f)) return qkFix(cfg, f, l, N, R, { q: first(base.get(`blocks.${l}.attn.hook_q`)!), k: first(base.get(`blocks.${l}.attn.hook_k`)!), pattern: first(base.get(`blocks.${l}.attn.hook_pattern`)!) },
      { q: src.get(`blocks.${l}.attn.hook_q`)!, k: src.get(`blocks.${l}.attn.hook_k`)! }, gradOf.get(`blocks.${l}.attn.hook_pattern`) ?? g.scalar(0));
    const hook = hookFor(f, l);
    const G = gradOf.get(hook) ?? g.scalar(0); // no path to the metric (e.g. q, k with frozen patterns): zero
    return reduceToLayout(f, Mul(tileR(delta(hook)), G), true);
  };
  const signed = ESTIMATORS[method].signed;
  for (const f of families) {
    const rows = Array.from({ length: L }, (_, l) => perRow(f, l));
    const perLayer = rows.map((x) => {
      if (signed) return ReduceSum(x, [0]);
      return Mul(ReduceSum(Sqrt(Mul(x, x)), [0]), Rf / (L - 1)); // |x| per copy and pair
    });
    g.output(Concat(perLayer.map((t) => Reshape(t, [1, ...t.shape])), 0), `attr.${f}`); // [layer, ...]
    // Each pair's own attribution: the loss is the mean over pairs, so a row's value is 1/N of its pair's.
    if (perPair)
      g.output(Mul(Concat(rows.map((t) => Reshape(t, [N, 1, ...t.shape.slice(1)])), 1), N), `pairs.${f}`); // [pair, layer, ...]
  }
  return g;
}

/**
 * GradDrop's L gradients on ONE base forward: pass l is the backward pass with blocks.l.hook_attn_out and
 * hook_mlp_out (their Identities, `dropAt[l]`) passing no gradient to their inputs. Hooks after layer l take the
 * plain gradient (the drop is upstream of them). Hooks at layers <= l reach the metric only through
 * blocks.l.hook_resid_post, so pass l starts there, seeded with the plain gradient of that tensor: only the part
 * of the backward below the dropped layer is repeated. Returns per hook [L * N, ...] (pass-major), zeros where a
 * pass leaves a hook no path to the metric (layer l's attention hooks in pass l).
 */
function gradDropGradients(loss: Tensor, hooks: string[], base: Map<string, Tensor>, residPost: Tensor[], dropAt: Tensor[][]): Map<string, Tensor> {
  const g = loss.graph;
  const L = residPost.length;
  const layerOf = (h: string) => Number(/^blocks\.(\d+)\./.exec(h)![1]);
  const full = grad(loss, [...hooks.map((h) => base.get(h)!), ...residPost]);
  const plain = new Map(hooks.map((h, i) => [h, full[i]]));
  const perPass: Map<string, Tensor | null>[] = [];
  for (let l = 0; l < L; l++) {
    const below = hooks.filter((h) => layerOf(h) <= l);
    for (const t of dropAt[l]) g.stopGrad.add(t);
    const gl = grad(residPost[l], below.map((h) => base.get(h)!), full[hooks.length + l]!);
    for (const t of dropAt[l]) g.stopGrad.delete(t);
    perPass.push(new Map(hooks.map((h) => [h, layerOf(h) <= l ? gl[below.indexOf(h)] : plain.get(h)!])));
  }
  return new Map(hooks.map((h) => {
    const b = base.get(h)!;
    return [h, Concat(perPass.map((m) => m.get(h) ?? Expand(g.scalar(0), b.shape)), 0)];
  }));
}

/**
 * The QK fix (AtP*): for a query (key) patch, the attention pattern recomputed exactly with the source queries
 * (keys) and the base keys (queries), then the linear step after the softmax: sum over (query, key) of
 * (A_patched - A_base) * dM/dA at the base run. By position: only that query's row, or that key's column in every
 * row, changes. `G` [R * N, head, query_pos, key_pos] holds one gradient per copy; returns [R * N, ...layout].
 */
function qkFix(cfg: GPT2Config, family: Family, l: number, N: number, R: number,
  base: { q: Tensor; k: Tensor; pattern: Tensor }, source: { q: Tensor; k: Tensor }, G: Tensor): Tensor {
  const g = base.q.graph;
  const { nHeads: H, dHead: dh } = cfg;
  const P = base.q.shape[1];
  const heads = (t: Tensor) => Transpose(t, [0, 2, 1, 3]); // [batch, head_index, pos, d_head]
  const scores = (q: Tensor, k: Tensor) => Mul(MatMul(heads(q), mT(heads(k))), 1 / Math.sqrt(dh)); // [batch, head_index, query_pos, key_pos]
  const causal: number[] = [];
  for (let q = 0; q < P; q++) for (let k = 0; k < P; k++) causal.push(k <= q ? 1 : 0);
  const attend = (S: Tensor) => softmax(Where(g.constant(causal, [P, P], 'bool'), S, -Infinity));
  const G5 = G.rank === 0 ? G : Reshape(G, [R, N, H, P, P]);
  const rows = (t: Tensor) => Reshape(t, [R * N, ...t.shape.slice(2)]);
  if (family === 'q' || family === 'q_by_pos' || family === 'k') {
    const patched = family === 'k' ? attend(scores(base.q, source.k)) : attend(scores(source.q, base.k));
    const X = Mul(Reshape(Sub(patched, base.pattern), [1, N, H, P, P]), G5); // [R, N, head, query_pos, key_pos]
    const full = G.rank === 0 ? Expand(X, [R, N, H, P, P]) : X;
    return rows(ReduceSum(full, family === 'q_by_pos' ? [4] : [3, 4]));
  }
  if (family === 'k_by_pos') {
    // Key position p of the source, every other key of the base: [N, head, p, query_pos, key_pos].
    const swapped = Reshape(Transpose(scores(base.q, source.k), [0, 1, 3, 2]), [N, H, P, P, 1]); // [N, head, p, query_pos, 1]
    const onehot: number[] = [];
    for (let p = 0; p < P; p++) for (let k = 0; k < P; k++) onehot.push(p === k ? 1 : 0);
    const S = Where(g.constant(onehot, [P, 1, P], 'bool'), swapped, Reshape(scores(base.q, base.k), [N, H, 1, P, P]));
    const D = Reshape(Sub(attend(S), Reshape(base.pattern, [N, H, 1, P, P])), [N, H, P, P * P]);
    if (G.rank === 0) return rows(Expand(Reshape(Mul(ReduceSum(D, [3]), G), [1, N, H, P]), [R, N, H, P]));
    const Gt = Transpose(Reshape(G, [R, N, H, P * P]), [1, 2, 3, 0]); // [N, head, query x key, R]
    return rows(Transpose(MatMul(D, Gt), [3, 0, 1, 2])); // [R, N, head, p]
  }
  throw new Error(`qkFix: ${family} is not a query or key family`);
}

/**
 * Integrated gradients per family and layer ("ig-layer"): for each hook at layer l, m runs (rows = step x pair)
 * from the base residual stream at l, with that hook interpolated from base to source (alpha = k / m) and every
 * later activation recomputed; the gradient at the interpolated hook, averaged over the runs, times
 * (source - base). One graph: the runs' losses are added (each hook's runs depend on their own hook only).
 */
function integratedLayers(
  cfg: GPT2Config, w: ReturnType<typeof weightInputs>, exp: Experiment, mIn: ReturnType<typeof metricInputs>, families: Family[],
  m: number, base: Map<string, Tensor>, src: Map<string, Tensor>, frozen: (name: string) => boolean,
): (f: Family, l: number) => Tensor {
  const N = exp.nPairs;
  const g = base.values().next().value!.graph;
  const tile = (t: Tensor) => (m === 1 ? t : Reshape(Expand(Reshape(t, [1, ...t.shape]), [m, ...t.shape]), [m * N, ...t.shape.slice(1)]));
  const alpha = g.constant(Array.from({ length: m * N }, (_, i) => Math.floor(i / N) / m), [m * N]);
  // Hooks not upstream of an internal metric are not run (their cells are masked as not upstream).
  const hooks = [...new Set(families.flatMap((f) => Array.from({ length: cfg.nLayers }, (_, l) => hookFor(f, l))))]
    .filter((h) => !notUpstream(exp.spec.metric, h));
  const ownHook = metricHook(exp.spec.metric);
  const interpolated = new Map<string, Tensor>();
  const losses: Tensor[] = [];
  for (const hook of hooks) {
    const l = Number(/^blocks\.(\d+)\./.exec(hook)![1]);
    const cap = metricCapture(cfg, exp);
    const out = gpt2Forward(cfg, w, null, (name, t) => {
      let v = t;
      if (name === hook) v = Add(t, Mul(Reshape(alpha, [m * N, ...t.shape.slice(1).map(() => 1)]), Sub(tile(stopGradient(src.get(hook)!)), t)));
      if (name === ownHook) cap.value = v;
      if (frozen(name)) v = stopGradient(v);
      if (name === hook) interpolated.set(hook, v);
      return v;
    }, { startLayer: l, residPre: tile(stopGradient(base.get(`blocks.${l}.hook_resid_pre`)!)) });
    losses.push(meanOf(metricRows(cfg, w, out, exp, mIn, cap)));
  }
  const total = losses.reduce((a, b) => Add(a, b));
  const grads = grad(total, hooks.map((h) => interpolated.get(h)!));
  const gradOf = new Map(hooks.map((h, i) => [h, grads[i]]));
  return (f, l) => {
    const hook = hookFor(f, l);
    const b = base.get(hook)!;
    return reduceToLayout(f, Mul(tile(Sub(src.get(hook)!, b)), gradOf.get(hook) ?? g.scalar(0)), true);
  };
}

export async function runAttribution(rt: Runtime, cfg: GPT2Config, exp: Experiment, req: AttributionRequest = {}): Promise<AttributionResult> {
  const families = req.families ?? FAMILIES;
  const mode = req.mode ?? 'patch';
  const steps = req.steps ?? 1;
  const method = checkMethod(req.method ?? 'atp', steps);
  const o = exp.spec.options;
  const key = `attr:${cfg.name}:${shapeKey(exp)}:${exp.spec.direction}:${mode}:${method}:${steps}:${+o.freezeLayerNorm}${+o.freezeAttention}:${families.join(',')}:${req.patched?.key ?? ''}:${+!!req.perPair}:${+!!req.reference}`;
  const reference = mode === 'mean' && req.reference ? req.reference : undefined;
  const refFeeds: Record<string, Feed> = {};
  if (reference)
    for (const f of families)
      for (let l = 0; l < cfg.nLayers; l++) {
        const h = hookFor(f, l);
        if (!reference.has(h)) throw new Error(`The mean-ablation reference has no value for ${h}.`);
        refFeeds[`reference.${h}`] = reference.get(h)!;
      }
  // One session per key for every prompt length (symbolic sizes; the QK fix still builds one per length).
  const sizes = sizesWithin(cfg.nCtx, exp.nPos, [{ name: 'SYM_POS', value: exp.nPos }]);
  const build = ([pos]: number[]) => attributionGraph(cfg, atLength(exp, pos), families, mode, method, steps, req.patched, req.perPair, !!reference);
  const out = await runSymbolic(rt, key, sizes, build, {
    ...refFeeds,
    ...noiseFeed(cfg, exp),
    'tokens.clean': tokenFeed(exp.clean),
    'tokens.corrupted': tokenFeed(exp.corrupted),
    ...metricFeeds(cfg, exp),
  });
  const values: Partial<Record<Family, Labelled>> = {};
  for (const f of families) {
    values[f] = { axes: familyAxes(f), shape: familyShape(f, cfg, exp.nPos), data: Float64Array.from(out[`attr.${f}`].data) };
    maskNotUpstream(cfg, exp, f, values[f]); // internal metrics: NaN = not upstream
  }
  const metric = { clean: out['metric.clean'].data[0], corrupted: out['metric.corrupted'].data[0] };
  if (!req.perPair) return { metric, values, method, steps };
  const pairValues: Partial<Record<Family, PairLabelled>> = {};
  for (const f of families) {
    pairValues[f] = { axes: ['pair', ...familyAxes(f)], shape: [exp.nPairs, ...familyShape(f, cfg, exp.nPos)], data: Float64Array.from(out[`pairs.${f}`].data) };
    maskPairs(maskNotUpstream(cfg, exp, f, undefined), pairValues[f]!.data);
  }
  const rows = (role: string) => Float64Array.from(out[`metric_rows.${role}`].data);
  return { metric, values, method, steps, pairs: { metric: { clean: rows('clean'), corrupted: rows('corrupted') }, values: pairValues } };
}

/** [pair, ...layout] values: NaN where `mask` (one pair's layout) says not upstream. */
export function maskPairs(mask: Uint8Array | undefined, data: Float64Array): void {
  if (!mask) return;
  for (let i = 0; i < data.length; i++) if (mask[i % mask.length]) data[i] = NaN;
}
