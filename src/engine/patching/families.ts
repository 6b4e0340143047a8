// Patch target families: which hook each reads, the shape of its result, and for any cell, which entries of the
// hook tensor (without its batch axis) a patch of that cell replaces.
import { Concat, ReduceSum, Reshape, Transpose, type Tensor } from '../graph';
import type { GPT2Config } from '../model/types';
import { FAMILY_AXES, type Family } from './types';

export const FAMILIES = Object.keys(FAMILY_AXES) as Family[];

/** The families of the CLI's JSON contract, in its order. */
export const CONTRACT_FAMILIES: Family[] = ['resid_pre', 'attn_out', 'mlp_out', 'head_out', 'head_out_all_pos', 'q', 'k', 'v', 'pattern'];

const HOOK_SUFFIX: Record<Family, string> = {
  resid_pre: 'hook_resid_pre', resid_mid: 'hook_resid_mid', resid_post: 'hook_resid_post',
  attn_out: 'hook_attn_out', mlp_out: 'hook_mlp_out',
  head_out: 'attn.hook_z', head_out_all_pos: 'attn.hook_z',
  q: 'attn.hook_q', k: 'attn.hook_k', v: 'attn.hook_v',
  q_by_pos: 'attn.hook_q', k_by_pos: 'attn.hook_k', v_by_pos: 'attn.hook_v',
  pattern: 'attn.hook_pattern', pattern_by_pos: 'attn.hook_pattern',
  mlp_post: 'mlp.hook_post',
};

export function isFamily(name: string): name is Family {
  return (FAMILIES as string[]).includes(name);
}

/** Parses a comma-separated family list, with a message naming any unknown entry. */
export function parseFamilies(list: string): Family[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !isFamily(n));
  if (bad.length) throw new Error(`Unknown target ${bad.map((b) => `"${b}"`).join(', ')}; choose from ${FAMILIES.join(', ')}.`);
  if (!names.length) throw new Error(`No targets given; choose from ${FAMILIES.join(', ')}.`);
  return names as Family[];
}

export function hookFor(family: Family, layer: number): string {
  return `blocks.${layer}.${HOOK_SUFFIX[family]}`;
}

export function familyShape(family: Family, cfg: GPT2Config, nPos: number): number[] {
  const size: Record<string, number> = { layer: cfg.nLayers, pos: nPos, head: cfg.nHeads, query_pos: nPos, key_pos: nPos, neuron: cfg.dMlp };
  return FAMILY_AXES[family].map((a) => size[a]);
}

/** Every cell index of a family, row-major. */
export function* cells(shape: number[]): Generator<number[]> {
  const idx = shape.map(() => 0);
  const total = shape.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    yield [...idx];
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
}

/**
 * For cell `index` of `family`: the layer, the hook, and a predicate over per-sequence hook coordinates (the hook's
 * shape without the batch axis) selecting the entries a patch replaces.
 */
export function cellSelector(family: Family, index: number[]): { layer: number; hook: string; select: (c: number[]) => boolean } {
  const [layer, a, b, c] = index;
  const hook = hookFor(family, layer);
  const sel = (f: (x: number[]) => boolean) => ({ layer, hook, select: f });
  switch (family) {
    case 'resid_pre': case 'resid_mid': case 'resid_post': case 'attn_out': case 'mlp_out':
      return sel(([pos]) => pos === a); // [pos, d_model]
    case 'head_out': case 'q_by_pos': case 'k_by_pos': case 'v_by_pos':
      return sel(([pos, head]) => head === a && pos === b); // [pos, head_index, d_head], index [layer, head, pos]
    case 'head_out_all_pos': case 'q': case 'k': case 'v':
      return sel(([, head]) => head === a);
    case 'pattern':
      return sel(([head]) => head === a); // [head_index, query_pos, key_pos]
    case 'pattern_by_pos':
      return sel(([head, q, k]) => head === a && q === b && k === c);
    case 'mlp_post':
      return sel(([pos, neuron]) => pos === a && neuron === b); // [pos, d_mlp], index [layer, pos, neuron]
  }
}

/** The earliest position a patch of this cell changes (0 for whole-head patches). */
export function firstPosition(family: Family, index: number[]): number {
  switch (family) {
    case 'resid_pre': case 'resid_mid': case 'resid_post': case 'attn_out': case 'mlp_out': case 'mlp_post':
      return index[1];
    case 'head_out': case 'q_by_pos': case 'k_by_pos': case 'v_by_pos':
      return index[2];
    case 'pattern_by_pos':
      return index[2];
    default:
      return 0;
  }
}

/**
 * Attribution reduction for one layer: per-entry scores A = (source - base) * grad, [batch, ...hook], summed to
 * this family's per-layer layout (without the layer axis).
 */
export function reduceLayer(family: Family, A: Tensor): Tensor {
  switch (family) {
    case 'resid_pre': case 'resid_mid': case 'resid_post': case 'attn_out': case 'mlp_out':
      return ReduceSum(A, [0, 2]); // [pos]
    case 'head_out': case 'q_by_pos': case 'k_by_pos': case 'v_by_pos':
      return Transpose(ReduceSum(A, [0, 3]), [1, 0]); // [head, pos]
    case 'head_out_all_pos': case 'q': case 'k': case 'v':
      return ReduceSum(A, [0, 1, 3]); // [head]
    case 'pattern':
      return ReduceSum(A, [0, 2, 3]); // [head]
    case 'pattern_by_pos': case 'mlp_post':
      return ReduceSum(A, [0]); // [head, query_pos, key_pos] | [pos, neuron]
  }
}

/** Stacks per-layer reductions into [layer, ...]. */
export function stackLayers(perLayer: Tensor[]): Tensor {
  return Concat(perLayer.map((t) => Reshape(t, [1, ...t.shape])), 0);
}
