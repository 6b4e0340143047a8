// Human names for patch targets, in TransformerLens hook vocabulary:
//   "blocks.3.attn.hook_z head 5 pos 7 (·Mary)".
import { familyAxes, hookFor, type Family } from '../engine/patching/families';
import type { AxisName } from '../engine/patching/labelled';

/** Families whose cells span every position of the hook (no position axis), so the name says "all pos". */
const allPositions = (f: Family) => !familyAxes(f).some((a) => a === 'pos' || a === 'query_pos');

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
  if (ctx.family && li >= 0) parts.push(hookFor(ctx.family, index[li]));
  axes.forEach((axis, i) => {
    if (axis === 'layer' && ctx.family) return;
    const tok = POS_AXES.has(axis) ? ctx.tokens?.[index[i]] : undefined;
    parts.push(`${axis} ${index[i]}${tok !== undefined ? ` (${tok})` : ''}`);
  });
  if (ctx.family && allPositions(ctx.family)) parts.push('(all pos)');
  return parts.join(' ');
}
