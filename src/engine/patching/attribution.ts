// Attribution patching (Nanda 2023): every patch at once from one source forward, one base forward and one backward
// pass, all in ONE graph, reduced on the device so only [layer, ...] arrays leave it:
//   attribution(a) = sum over the patch's entries of (source_a - base_a) * d metric / d base_a.
// Denoising: base = corrupted, source = clean. Noising: base = clean, source = corrupted.
// Zero / mean ablation replace source_a by 0 / the mean over every prompt (clean and corrupted) at that position.
import { Add, Graph, Mul, Neg, ReduceSum, Sub, grad, stopGradient, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';
import type { Feed, Runtime } from '../runtime/types';
import type { Experiment } from './experiment';
import { FAMILIES, familyShape, hookFor, reduceLayer, stackLayers } from './families';
import { meanOf, metricFeeds, metricInputs, metricRows } from './metrics';
import type { CellPatch } from './node-sets';
import type { Family, Labelled } from './types';
import { FAMILY_AXES } from './types';

export type AttributionMode = 'patch' | 'zero' | 'mean';

export interface AttributionRequest {
  families?: Family[];
  mode?: AttributionMode;
  /**
   * Cells already patched (from the source run) in the base run: attribution of that run, gradients included
   * (node-sets.ts, `attribute --patched`). The reported base metric is then the patched run's.
   */
  patched?: CellPatch;
}

export interface AttributionResult {
  metric: { clean: number; corrupted: number };
  values: Partial<Record<Family, Labelled>>;
}

export function tokenFeed(seqs: number[][]): Feed {
  return { dtype: 'int64', shape: [seqs.length, seqs[0].length], data: BigInt64Array.from(seqs.flat(), BigInt) };
}

export function experimentKey(exp: Experiment): string {
  const m = exp.spec.metric;
  return `${exp.nPairs}x${exp.nPos}:${m.name}:${exp.positions.join('.')}`;
}

export function attributionGraph(cfg: GPT2Config, exp: Experiment, families: Family[], mode: AttributionMode, patched?: CellPatch): Graph {
  const g = new Graph('attribution');
  const w = weightInputs(g, cfg);
  const [N, P] = [exp.nPairs, exp.nPos];
  const tokens = { clean: g.input('tokens.clean', [N, P], 'int64'), corrupted: g.input('tokens.corrupted', [N, P], 'int64') };
  const mIn = metricInputs(g, cfg, exp);
  const { freezeLayerNorm, freezeAttention } = exp.spec.options;
  const denoising = exp.spec.direction === 'denoising';

  const needed = new Set<string>();
  for (const f of families) for (let l = 0; l < cfg.nLayers; l++) needed.add(hookFor(f, l));

  // With patched cells, the source run keeps their hooks' values and the base run takes them (source runs first).
  const patchSource = new Map<string, Tensor>();
  const patchHooks = new Set(patched?.hooks);
  const record = (store: Map<string, Tensor>, isBase: boolean) => (name: string, t: Tensor) => {
    if (!isBase && patchHooks.has(name)) patchSource.set(name, t);
    const x = isBase && patched && patchHooks.has(name) ? patched.replace(name, t, patchSource.get(name)!) : t;
    const frozen = isBase && ((freezeLayerNorm && name.endsWith('hook_scale')) || (freezeAttention && name.endsWith('hook_pattern')));
    const v = frozen ? stopGradient(x) : x;
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
    const perLayer = Array.from({ length: cfg.nLayers }, (_, l) => reduceLayer(f, scoreOf(hookFor(f, l))));
    g.output(stackLayers(perLayer), `attr.${f}`);
  }
  return g;
}

export async function runAttribution(rt: Runtime, cfg: GPT2Config, exp: Experiment, req: AttributionRequest = {}): Promise<AttributionResult> {
  const families = req.families ?? FAMILIES;
  const mode = req.mode ?? 'patch';
  const o = exp.spec.options;
  const key = `attr:${cfg.name}:${experimentKey(exp)}:${exp.spec.direction}:${mode}:${+o.freezeLayerNorm}${+o.freezeAttention}:${families.join(',')}:${req.patched?.key ?? ''}`;
  const out = await rt.run(key, () => attributionGraph(cfg, exp, families, mode, req.patched), {
    'tokens.clean': tokenFeed(exp.clean),
    'tokens.corrupted': tokenFeed(exp.corrupted),
    ...metricFeeds(cfg, exp),
  });
  const values: Partial<Record<Family, Labelled>> = {};
  for (const f of families)
    values[f] = { axes: FAMILY_AXES[f], shape: familyShape(f, cfg, exp.nPos), data: Float64Array.from(out[`attr.${f}`].data) };
  return { metric: { clean: out['metric.clean'].data[0], corrupted: out['metric.corrupted'].data[0] }, values };
}
