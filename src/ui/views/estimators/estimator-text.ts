// Words for estimators in the views: what the numbers are called, whether they are magnitudes, and the "Verify top
// K" summary line. Pure (no React), so it is unit-tested.
import { ESTIMATORS, type Method } from '../../../engine/patching/estimators';
import { estimatorLabel, type RunResult } from '../../../state/results';
import type { VerifiedLine } from '../../../state/store';
import { verificationStats } from '../../../viz/scatter/stats';

export interface EstimatorView {
  /** The value's name in tooltips, aria labels and legends: "attribution" (AtP) or "AtP* estimate, magnitude". */
  valueName: string;
  /** Magnitudes: a sequential colour scale. */
  sequential: boolean;
  label: string;
}

export function estimatorView(method: Method = 'atp', steps = 1): EstimatorView {
  const e = ESTIMATORS[method];
  const label = estimatorLabel(method, steps);
  if (method === 'atp') return { valueName: 'attribution', sequential: false, label };
  return { valueName: `${label} estimate${e.signed ? '' : ', magnitude'}`, sequential: !e.signed, label };
}

export const runEstimatorView = (r: RunResult): EstimatorView => estimatorView(r.method ?? 'atp', r.steps ?? 1);

const f = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : 'n/a');

/**
 * "top 5 by |AtP*|: estimate vs exact, mean ||estimate| − |exact|| 0.0123 (magnitudes); mean |exact| 0.412 vs 0.0200
 * for 5 random others; recall of the true top 5: 0.800". Values are multiplied by `k` (the view's scale).
 */
export function verificationLine(v: VerifiedLine, k = 1): string {
  const { signed, title } = ESTIMATORS[v.method];
  const s = verificationStats(v.cells.map((c) => ({ ...c, estimate: c.estimate * k, exact: c.exact * k })), signed);
  return [
    `top ${s.k} by |${title}|: estimate vs exact, mean ${signed ? '|estimate − exact|' : '||estimate| − |exact||'} ${f(s.meanAbsError)}`
      + (signed ? `, sign right ${s.signAgree}/${s.k}` : ' (magnitudes)'),
    `mean |exact| ${f(s.meanAbsExactTop)} vs ${f(s.meanAbsExactRandom)} for ${v.cells.length - s.k} random others`,
    v.recall === undefined ? 'recall of the true top K: needs every cell patched' : `recall of the true top ${v.k}: ${f(v.recall)}`,
  ].join('; ');
}
