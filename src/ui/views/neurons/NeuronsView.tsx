// The Neurons tab (issue 14, full granularity): MLP neurons (mlp_post [layer, pos, neuron]) ranked by |attribution|
// in one layer and/or at one position; a row click (or Enter) runs that neuron's exact activation patch, "Patch top K"
// patches every row with the sweep's progress and Cancel. The family is computed on demand for the run on screen.
import { useEffect, useMemo, useState } from 'react';
import { selectCell } from '../../../state/actions';
import { computeNeurons, patchNeurons, useInspect } from '../../../state/actions/inspect';
import { flatIndex, type RunResult } from '../../../state/results';
import { useStore } from '../../../state/store';
import type { Scale } from '../common';
import { runEstimatorView } from '../estimators/estimator-text';
import { neuronTopK } from './neuron-top';
import '../inspect/inspect.css';

const fmt = (v: number) => (Number.isNaN(v) ? '—' : v.toFixed(4));

export function NeuronsView({ run, scale }: { run: RunResult; scale: Scale }) {
  const status = useInspect((s) => s.neuronStatus);
  const error = useInspect((s) => s.neuronError);
  const selected = useStore((s) => (s.selected?.family === 'mlp_post' ? s.selected.index : null));
  const sweeping = useStore((s) => s.sweep !== null);
  const pending = useStore((s) => s.pendingCell);
  const [layer, setLayer] = useState<number | null>(null);
  const [pos, setPos] = useState<number | null>(null);
  const [k, setK] = useState(20);
  useEffect(() => {
    void computeNeurons();
  }, [run]);
  const a = run.attribution.mlp_post;
  const p = run.patched.mlp_post;
  const rows = useMemo(() => (a ? neuronTopK(a, { k, layer, pos }) : []), [a, k, layer, pos]);
  const estimator = runEstimatorView(run).valueName;
  if (!a) {
    return (
      <div data-testid="view.neurons">
        {status === 'error' ? <p className="pw-error" role="alert" data-testid="neurons.error">{error}</p> : <p className="pw-empty" role="status">Computing neuron attribution…</p>}
      </div>
    );
  }
  const [L, P, N] = a.shape;
  const exact = (idx: number[]) => (p ? p.data[flatIndex(p.shape, idx)] : NaN);
  return (
    <div data-testid="view.neurons">
      <p className="pw-muted">
        MLP neurons (blocks.L.mlp.hook_post, {L} layers × {P} positions × {N} neurons) with the largest |{estimator}|. Click a row
        (or focus it and press Enter) for its exact activation patch.
      </p>
      <div className="pw-neurons-controls">
        <label>Layer{' '}
          <select value={layer ?? ''} onChange={(e) => setLayer(e.target.value === '' ? null : Number(e.target.value))} data-testid="neurons.layer">
            <option value="">all</option>
            {Array.from({ length: L }, (_, i) => <option key={i} value={i}>{i}</option>)}
          </select>
        </label>
        <label>Position{' '}
          <select value={pos ?? ''} onChange={(e) => setPos(e.target.value === '' ? null : Number(e.target.value))} data-testid="neurons.pos">
            <option value="">all</option>
            {Array.from({ length: P }, (_, i) => <option key={i} value={i}>{i} {run.tokens[i] ?? ''}</option>)}
          </select>
        </label>
        <label>K{' '}
          <input
            type="number"
            min={1}
            max={500}
            value={k}
            onChange={(e) => setK(Math.max(1, Math.min(500, Math.floor(Number(e.target.value) || 1))))}
            data-testid="neurons.k"
            style={{ width: '5em' }}
          />
        </label>
        <button type="button" disabled={sweeping || !rows.length} onClick={() => void patchNeurons(rows.map((r) => r.index))} data-testid="neurons.patchTop">
          Patch top {rows.length}
        </button>
      </div>
      <div className="pw-inspect-scroll">
        <table className="pw-inspect-table pw-neurons-table" data-testid="neurons.table" aria-label="Top neurons by |attribution|">
          <thead>
            <tr>
              <th scope="col">#</th><th scope="col">layer</th><th scope="col">pos</th><th scope="col">neuron</th>
              <th scope="col">{estimator} ({scale.unit})</th><th scope="col">exact patch ({scale.unit})</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => {
              const [l, q, n] = r.index;
              const x = exact(r.index);
              const isSel = !!selected && selected[0] === l && selected[1] === q && selected[2] === n;
              const open = () => void selectCell('mlp_post', [l, q, n]);
              return (
                <tr
                  key={`${l}.${q}.${n}`}
                  tabIndex={0}
                  aria-selected={isSel}
                  onClick={open}
                  onKeyDown={(e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } }}
                  data-testid="neurons.row"
                  data-index={`${l},${q},${n}`}
                  data-value={r.value}
                  data-exact={Number.isNaN(x) ? undefined : x}
                >
                  <td>{i + 1}</td><td>{l}</td><td title={run.tokens[q]}>{q} {run.tokens[q] ?? ''}</td><td>{n}</td>
                  <td>{fmt(r.value * scale.k)}</td>
                  <td>{pending === `mlp_post:${l},${q},${n}` ? '…' : fmt(x * scale.k)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
