// Direct logit attribution as table rows (issue 14): the embeddings, each layer's heads and MLP in model order, the
// attention output biases and ln_final's bias. Their sum is what the components add up to (the logit difference
// for logit_diff). Pure, tested apart from React.
import type { DirectLogitAttribution } from '../../../engine/patching/inspect';

export interface DlaRow {
  /** "embed", "L3H7", "MLP3", "b_O (all layers)", "ln_final bias". */
  name: string;
  kind: 'embed' | 'head' | 'mlp' | 'bias';
  layer?: number;
  head?: number;
  value: number;
}

export function dlaRows(d: DirectLogitAttribution): DlaRow[] {
  const [L, H] = d.heads.shape;
  const rows: DlaRow[] = [{ name: 'embed', kind: 'embed', value: d.embed }];
  for (let layer = 0; layer < L; layer++) {
    for (let head = 0; head < H; head++) rows.push({ name: `L${layer}H${head}`, kind: 'head', layer, head, value: d.heads.data[layer * H + head] });
    rows.push({ name: `MLP${layer}`, kind: 'mlp', layer, value: d.mlps.data[layer] });
  }
  rows.push({ name: 'b_O (all layers)', kind: 'bias', value: d.attnBias });
  rows.push({ name: 'ln_final bias', kind: 'bias', value: d.lnFinalBias });
  return rows;
}

/** Plain float64 sum of the rows (what the table shows as their total). */
export function dlaSum(rows: readonly DlaRow[]): number {
  return rows.reduce((a, r) => a + r.value, 0);
}

/** What the components sum to, in words, for the metric. */
export function dlaTarget(metric: string, answer: string, wrong: string): string {
  return metric === 'logit_diff' ? `logit(${answer}) − logit(${wrong})` : `logit(${answer})`;
}
