// One graph that exposes any subset of hooks as outputs, accepts replacement values for any subset (masked with
// Where), and carries the backward pass of a scalar to any subset, so a single session run does all three.
import { Graph, Where, grad, stopGradient, type Tensor } from '../graph';
import { gpt2Forward, hookShapes, unembed, weightInputs, type WeightInputs } from './gpt2';
import type { GPT2Config } from './types';

export interface HookedGraphSpec {
  batch: number;
  pos: number;
  /** Hooks to return, by name (and 'logits' for [batch, pos, d_vocab]). */
  fetch?: string[];
  /** Hooks that take inputs `patch.{hook}` (values, the hook's shape) and `mask.{hook}` (bool, same shape). */
  patch?: string[];
  /** A scalar of the run (from ln_final's output); its gradient goes to every hook in `gradOf` as `{hook}_grad`. */
  loss?: (ctx: { g: Graph; w: WeightInputs; lnOut: Tensor }) => Tensor;
  gradOf?: string[];
  /** No gradient through ln*.hook_scale / attn.hook_pattern. */
  freezeLayerNorm?: boolean;
  freezeAttention?: boolean;
}

export function hookedGraph(cfg: GPT2Config, spec: HookedGraphSpec): Graph {
  const g = new Graph('hooked');
  const w = weightInputs(g, cfg);
  const shapes = hookShapes(cfg, spec.batch, spec.pos);
  const fetch = new Set(spec.fetch ?? []);
  const patch = new Set(spec.patch ?? []);
  const gradOf = new Set(spec.gradOf ?? []);
  for (const name of [...fetch, ...patch, ...gradOf])
    if (name !== 'logits' && !shapes.has(name)) throw new Error(`unknown hook "${name}" (TransformerLens names, e.g. blocks.0.attn.hook_z)`);
  if (gradOf.size && !spec.loss) throw new Error('gradOf needs a loss');

  const seen = new Map<string, Tensor>();
  const tokens = g.input('tokens', [spec.batch, spec.pos], 'int64');
  const lnOut = gpt2Forward(cfg, w, tokens, (name, t) => {
    let v = t;
    if (patch.has(name)) v = Where(g.input(`mask.${name}`, t.shape, 'bool'), g.input(`patch.${name}`, t.shape), v);
    const frozen = (spec.freezeLayerNorm && name.endsWith('hook_scale')) || (spec.freezeAttention && name.endsWith('hook_pattern'));
    if (frozen) v = stopGradient(v);
    seen.set(name, v);
    if (fetch.has(name)) g.output(v, name);
    return v;
  });
  if (fetch.has('logits')) g.output(unembed(cfg, w, lnOut), 'logits');
  if (spec.loss) {
    const loss = spec.loss({ g, w, lnOut });
    g.output(loss, 'loss');
    const names = [...gradOf];
    grad(loss, names.map((n) => seen.get(n)!)).forEach((gr, i) => {
      // A hook the loss does not depend on has gradient zero.
      g.output(gr ?? Where(g.constant([0], [], 'bool'), seen.get(names[i])!, 0), `${names[i]}_grad`);
    });
  }
  return g;
}
