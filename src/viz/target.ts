// Human names for patch targets, in TransformerLens hook vocabulary:
//   "blocks.3.attn.hook_z head 5 pos 7 (·Mary)".
import type { AxisName, Family } from '../engine/patching/types';

/** The hook each family patches; `{l}` is the layer. */
export const FAMILY_HOOK: Record<Family, string> = {
  resid_pre: 'blocks.{l}.hook_resid_pre',
  resid_mid: 'blocks.{l}.hook_resid_mid',
  resid_post: 'blocks.{l}.hook_resid_post',
  attn_out: 'blocks.{l}.hook_attn_out',
  mlp_out: 'blocks.{l}.hook_mlp_out',
  head_out: 'blocks.{l}.attn.hook_z',
  head_out_all_pos: 'blocks.{l}.attn.hook_z',
  q: 'blocks.{l}.attn.hook_q',
  k: 'blocks.{l}.attn.hook_k',
  v: 'blocks.{l}.attn.hook_v',
  q_by_pos: 'blocks.{l}.attn.hook_q',
  k_by_pos: 'blocks.{l}.attn.hook_k',
  v_by_pos: 'blocks.{l}.attn.hook_v',
  pattern: 'blocks.{l}.attn.hook_pattern',
  pattern_by_pos: 'blocks.{l}.attn.hook_pattern',
  mlp_post: 'blocks.{l}.mlp.hook_post',
};

/** Families whose target spans every position of the hook (no pos axis), so the name says "all pos". */
const ALL_POS: ReadonlySet<Family> = new Set<Family>(['head_out_all_pos', 'q', 'k', 'v', 'pattern']);

export interface TargetContext {
  family?: Family;
  /** Display strings of the prompt's tokens (leading space shown as '·'), for pos/query_pos/key_pos. */
  tokens?: readonly string[];
}

const POS_AXES: ReadonlySet<AxisName> = new Set<AxisName>(['pos', 'query_pos', 'key_pos']);

/**
 * E.g. family head_out, axes [layer, head, pos], index [3, 5, 7] -> "blocks.3.attn.hook_z head 5 pos 7 (·Mary)".
 * Without a family: "layer 3 head 5 pos 7 (·Mary)".
 */
export function describeTarget(axes: readonly AxisName[], index: readonly number[], ctx: TargetContext = {}): string {
  const parts: string[] = [];
  const li = axes.indexOf('layer');
  if (ctx.family && li >= 0) parts.push(FAMILY_HOOK[ctx.family].replace('{l}', String(index[li])));
  axes.forEach((axis, i) => {
    if (axis === 'layer' && ctx.family) return;
    const tok = POS_AXES.has(axis) ? ctx.tokens?.[index[i]] : undefined;
    parts.push(`${axis} ${index[i]}${tok !== undefined ? ` (${tok})` : ''}`);
  });
  if (ctx.family && ALL_POS.has(ctx.family)) parts.push('(all pos)');
  return parts.join(' ');
}
