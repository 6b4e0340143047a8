// Attribution patching (Nanda 2023): every patch at once from one source forward, one base forward and one backward
// pass, all in ONE graph, reduced on the device so only [layer, ...] arrays leave it:
//   attribution(a) = sum over the patch's entries of (source_a - base_a) * d metric / d base_a.
// Denoising: base = corrupted, source = clean. Noising: base = clean, source = corrupted.
// Zero / mean ablation replace source_a by 0 / the mean over every prompt (clean and corrupted) at that position.
import { Add, Concat, Graph, Mul, Neg, ReduceSum, Reshape, Sub, Transpose, grad, stopGradient, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import { int64Feed, type Feed, type Runtime } from '../runtime/types';
import type { Experiment } from './experiment';
import { FAMILIES, cellAxes, familyAxes, familyShape, hookFor, type Family } from './families';
import type { Labelled } from './labelled';
import { meanOf, metricFeeds, metricInputs, metricRows } from './metrics';

export type AttributionMode = 'patch' | 'zero' | 'mean';

export interface AttributionRequest {
  families?: Family[];
  mode?: AttributionMode;
}

export interface AttributionResult {
  metric: { clean: number; corrupted: number };
  values: Partial<Record<Family, Labelled>>;
}

export function tokenFeed(seqs: number[][]): Feed {
  return int64Feed(seqs.flat(), [seqs.length, seqs[0].length]);
}

/**
 * Per-entry scores A [batch, ...hook axes] of one layer summed to the family's layout without its layer axis: every
 * hook axis that a cell does not fix is summed (with the batch), the fixed ones are put in the result's order.
 */
export function reduceToLayout(family: Family, A: Tensor): Tensor {
  const byHookAxis = cellAxes(family); // result axis fixing each hook axis, or -1
  const summed = [0, ...byHookAxis.flatMap((r, h) => (r < 0 ? [h + 1] : []))];
  const reduced = ReduceSum(A, summed); // kept hook axes, in hook order
  const kept = byHookAxis.filter((r) => r >= 0); // their result axes
  const order = kept.map((_, i) => i).sort((a, b) => kept[a] - kept[b]);
  return order.every((o, i) => o === i) ? reduced : Transpose(reduced, order);
}

export function experimentKey(exp: Experiment): string {
  const m = exp.spec.metric;
  return `${exp.nPairs}x${exp.nPos}:${m.name}:${exp.positions.join('.')}`;
}

export function attributionGraph(cfg: GPT2Config, exp: Experiment, families: Family[], mode: AttributionMode): Graph {
  const g = new Graph('attribution');
  const w = weightInputs(g, cfg);
  const [N, P] = [exp.nPairs, exp.nPos];
  const tokens = { clean: g.input('tokens.clean', [N, P], 'int64'), corrupted: g.input('tokens.corrupted', [N, P], 'int64') };
  const mIn = metricInputs(g, cfg, exp);
  const { freezeLayerNorm, freezeAttention } = exp.spec.options;
  const denoising = exp.spec.direction === 'denoising';

  const needed = new Set<string>();
  for (const f of families) for (let l = 0; l < cfg.nLayers; l++) needed.add(hookFor(f, l));

  const record = (store: Map<string, Tensor>, freeze: boolean) => (name: string, t: Tensor) => {
    const frozen = freeze && ((freezeLayerNorm && name.endsWith('hook_scale')) || (freezeAttention && name.endsWith('hook_pattern')));
    const v = frozen ? stopGradient(t) : t;
    if (needed.has(name)) store.set(name, v);
    return v;
  };
  const acts = { clean: new Map<string, Tensor>(), corrupted: new Map<string, Tensor>() };
  const baseRole = denoising ? 'corrupted' : 'clean';
  const sourceRole = denoising ? 'clean' : 'corrupted';
  const lnOut = {
    [sourceRole]: gpt2Forward(cfg, w, tokens[sourceRole], record(acts[sourceRole], false)),
    [baseRole]: gpt2Forward(cfg, w, tokens[baseRole], record(acts[baseRole], true)),
  } as Record<'clean' | 'corrupted', Tensor>;
  const rows = { clean: metricRows(cfg, w, lnOut.clean, exp, mIn), corrupted: metricRows(cfg, w, lnOut.corrupted, exp, mIn) };
  g.output(meanOf(rows.clean), 'metric.clean');
  g.output(meanOf(rows.corrupted), 'metric.corrupted');

  const hooks = [...needed];
  const base = acts[baseRole];
  const grads = grad(meanOf(rows[baseRole]), hooks.map((h) => base.get(h)!));
  const gradOf = new Map(hooks.map((h, i) => [h, grads[i]]));

  const scores = new Map<string, Tensor>(); // per hook: (source - base) * grad, [batch, ...hook]
  const scoreOf = (hook: string): Tensor => {
    let s = scores.get(hook);
    if (s) return s;
    const b = base.get(hook)!;
    const G = gradOf.get(hook) ?? g.scalar(0); // no path to the metric (e.g. q, k with frozen patterns): zero
    let delta: Tensor;
    if (mode === 'zero') delta = Neg(b);
    else if (mode === 'mean') {
      const sum = Add(ReduceSum(acts.clean.get(hook)!, [0], true), ReduceSum(acts.corrupted.get(hook)!, [0], true));
      delta = Sub(Mul(sum, 1 / (2 * N)), b);
    } else delta = Sub(acts[sourceRole].get(hook)!, b);
    s = Mul(delta, G);
    scores.set(hook, s);
    return s;
  };
  for (const f of families) {
    const perLayer = Array.from({ length: cfg.nLayers }, (_, l) => reduceToLayout(f, scoreOf(hookFor(f, l))));
    g.output(Concat(perLayer.map((t) => Reshape(t, [1, ...t.shape])), 0), `attr.${f}`); // [layer, ...]
  }
  return g;
}

export async function runAttribution(rt: Runtime, cfg: GPT2Config, exp: Experiment, req: AttributionRequest = {}): Promise<AttributionResult> {
  const families = req.families ?? FAMILIES;
  const mode = req.mode ?? 'patch';
  const o = exp.spec.options;
  const key = `attr:${cfg.name}:${experimentKey(exp)}:${exp.spec.direction}:${mode}:${+o.freezeLayerNorm}${+o.freezeAttention}:${families.join(',')}`;
  const out = await rt.run(key, () => attributionGraph(cfg, exp, families, mode), {
    'tokens.clean': tokenFeed(exp.clean),
    'tokens.corrupted': tokenFeed(exp.corrupted),
    ...metricFeeds(cfg, exp),
  });
  const values: Partial<Record<Family, Labelled>> = {};
  for (const f of families)
    values[f] = { axes: familyAxes(f), shape: familyShape(f, cfg, exp.nPos), data: Float64Array.from(out[`attr.${f}`].data) };
  return { metric: { clean: out['metric.clean'].data[0], corrupted: out['metric.corrupted'].data[0] }, values };
}
