// Pure helpers for the attention-pattern view. Indexing is [dest][src]: query_pos (row) attends to key_pos (col).
import type { Labelled } from '../../engine/patching/types';

export const PATTERN_AXES = ['layer', 'head', 'query_pos', 'key_pos'] as const;

/** GPT-2 is causal: a query never attends to a later key, so those pattern entries are blank, not zero. */
export function causalMask(queryPos: number, keyPos: number): boolean {
  return keyPos > queryPos;
}

export function assertPatternLayout(l: Labelled): void {
  const ok = l.axes.length === 4 && PATTERN_AXES.every((a, i) => l.axes[i] === a);
  if (!ok) throw new Error(`expected axes [${PATTERN_AXES.join(', ')}], got [${l.axes.join(', ')}]`);
  if (l.shape[2] !== l.shape[3]) throw new Error(`query_pos (${l.shape[2]}) and key_pos (${l.shape[3]}) differ`);
}

export interface HeadRank {
  layer: number;
  head: number;
  /** max |attribution| over the head's unmasked (query_pos, key_pos); NaN if none is finite. */
  maxAbs: number;
  /** The signed value at that entry, for its colour. */
  value: number;
  queryPos: number;
  keyPos: number;
}

/**
 * Heads by max |pattern attribution|, largest first (ties: lower layer, then lower head). A max, not a sum: each
 * softmax row sums to 1, so a row's clean-minus-corrupted differences sum to 0 and its per-entry attributions largely
 * offset; the sum is the head's whole-pattern score, which is the `pattern` family.
 */
export function rankHeads(l: Labelled): HeadRank[] {
  assertPatternLayout(l);
  const [nLayers, nHeads, nPos] = l.shape;
  const out: HeadRank[] = [];
  for (let layer = 0; layer < nLayers; layer++) {
    for (let head = 0; head < nHeads; head++) {
      const base = (layer * nHeads + head) * nPos * nPos;
      const best: HeadRank = { layer, head, maxAbs: NaN, value: NaN, queryPos: -1, keyPos: -1 };
      for (let q = 0; q < nPos; q++) {
        for (let k = 0; k <= q; k++) {
          const v = l.data[base + q * nPos + k];
          const a = Math.abs(v);
          if (Number.isFinite(a) && (Number.isNaN(best.maxAbs) || a > best.maxAbs)) {
            Object.assign(best, { maxAbs: a, value: v, queryPos: q, keyPos: k });
          }
        }
      }
      out.push(best);
    }
  }
  const key = (r: HeadRank) => (Number.isNaN(r.maxAbs) ? -1 : r.maxAbs);
  return out.sort((a, b) => key(b) - key(a) || a.layer - b.layer || a.head - b.head);
}

export function headName(h: { layer: number; head: number }): string {
  return `L${h.layer}H${h.head}`;
}
