// The scatter tab's estimator comparison (issue 12): every estimator computed for this run against the exact
// patch, one plot each, with Pearson r, Spearman rho and top-k recall. Other estimators are computed on demand and
// kept in the results cache with the run.
import { useMemo, useState } from 'react';
import { ESTIMATORS, METHODS } from '../../../engine/patching/estimators';
import type { Family } from '../../../engine/patching/types';
import { computeEstimate, selectCell } from '../../../state/actions';
import { estimatorKey, parseEstimatorKey, runEstimates, scaled, type RunResult } from '../../../state/results';
import { useStore } from '../../../state/store';
import { Scatter } from '../../../viz/scatter/Scatter';
import { estimatorAgreement } from '../../../viz/scatter/stats';
import { familyTitle, type Scale } from '../common';
import { estimatorView } from './estimator-text';

const K = 10;
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

export function EstimatorComparison({ run, scale, families }: { run: RunResult; scale: Scale; families: Family[] }) {
  const estimating = useStore((s) => s.estimating);
  const error = useStore((s) => s.estimateError);
  const steps = useStore((s) => s.estimator.steps);
  const withPatches = families.filter((f) => run.patched[f]?.data.some((v) => !Number.isNaN(v)));
  const [picked, setPicked] = useState<Family | null>(null);
  const family = picked && families.includes(picked) ? picked : withPatches[0] ?? families[0];
  const estimates = runEstimates(run);
  const keys = Object.keys(estimates);
  const exact = run.patched[family];
  const missing = METHODS.filter((m) => !keys.includes(estimatorKey(m, ESTIMATORS[m].steps ? steps : 1)));
  const rows = useMemo(() => keys.flatMap((key) => {
    const est = estimates[key][family];
    if (!est || !exact) return [];
    const { method, steps: s } = parseEstimatorKey(key);
    const view = estimatorView(method, s);
    return [{ key, method, view, est, stats: estimatorAgreement(est.data, exact.data, ESTIMATORS[method].signed, K) }];
  }), [keys.join(','), family, exact, run]);

  return (
    <section className="pw-estimators" aria-label="Estimators against the exact patch" data-testid="estimators.compare">
      <h3>Estimators against the exact patch</h3>
      <div className="pw-row pw-wrap">
        <label className="pw-row">Family
          <select value={family} onChange={(e) => setPicked(e.target.value as Family)} data-testid="estimators.family" aria-label="Family">
            {families.map((f) => <option key={f} value={f}>{familyTitle(f)}</option>)}
          </select>
        </label>
        <span>Compute:</span>
        {missing.map((m) => (
          <button
            key={m}
            type="button"
            disabled={estimating !== null}
            title={ESTIMATORS[m].description}
            onClick={() => void computeEstimate(m, ESTIMATORS[m].steps ? steps : 1)}
            data-testid={`estimators.compute.${m}`}
          >
            {estimatorView(m, ESTIMATORS[m].steps ? steps : 1).label}
          </button>
        ))}
        {estimating ? <span role="status" data-testid="estimators.busy">computing {estimating}…</span> : null}
      </div>
      {error ? <p className="pw-error" role="alert" data-testid="estimators.error">{error}</p> : null}
      <table className="pw-table" data-testid="estimators.stats">
        <thead>
          <tr><th>estimator</th><th>n</th><th>Pearson r</th><th>Spearman ρ</th><th>top-{K} recall</th></tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={r.key}
              data-testid={`estimators.stats.${r.method}`}
              data-n={r.stats.n}
              data-pearson={r.stats.pearson}
              data-spearman={r.stats.spearman}
              data-recall={r.stats.topK}
            >
              <td>{r.view.label}{ESTIMATORS[r.method].signed ? '' : ' (magnitude, vs |exact|)'}</td>
              <td>{r.stats.n}</td>
              <td>{fmt(r.stats.pearson)}</td>
              <td>{fmt(r.stats.spearman)}</td>
              <td>{fmt(r.stats.topK)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!exact || !rows.length || rows[0].stats.n < 2 ? (
        <p className="pw-empty">Compute exact patches of this family (below, or Verify top K) to compare the estimators.</p>
      ) : (
        <div className="pw-grid">
          {rows.map((r) => (
            <figure key={r.key} className="pw-figure pw-figure-scatter" data-testid={`figure.estimator.${r.method}`}>
              <figcaption><span className="pw-figure-title">{r.view.label}</span> <span className="pw-muted">{familyTitle(family)}</span></figcaption>
              <EstimatorPlot run={run} family={family} scale={scale} estimate={r.est} name={r.view.valueName} signed={ESTIMATORS[r.method].signed} />
            </figure>
          ))}
        </div>
      )}
    </section>
  );
}

function EstimatorPlot({ run, family, scale, estimate, name, signed }: {
  run: RunResult; family: Family; scale: Scale; estimate: NonNullable<RunResult['attribution'][Family]>; name: string; signed: boolean;
}) {
  const exact = run.patched[family]!;
  const x = useMemo(() => scaled(estimate, scale.k), [estimate, scale.k]);
  const y = useMemo(() => {
    const s = scaled(exact, scale.k);
    return signed ? s : { ...s, data: s.data.map(Math.abs) };
  }, [exact, scale.k, signed]);
  return (
    <Scatter
      x={x}
      y={y}
      options={{ family, tokens: run.tokens, unit: scale.unit, height: 280, xName: name, yName: signed ? 'activation patch' : '|activation patch|', filename: `patchwork-estimator-${family}` }}
      onSelect={(index) => void selectCell(family, index)}
    />
  );
}
