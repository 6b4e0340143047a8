// The selected cell: its target in TransformerLens names, the attribution estimate beside the exact activation
// patch, and how far apart they are.
import { describeTarget } from '../../viz/target';
import { formatPrecise } from '../format';
import { patchedFor, type RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { familyTitle, type Scale } from './common';
import { runEstimatorView } from './estimators/estimator-text';
import { PairSem } from './PairSem';

export function DetailsPanel({ run, scale }: { run: RunResult; scale: Scale }) {
  const selected = useStore((s) => s.selected);
  const pending = useStore((s) => s.pendingCell);
  const error = useStore((s) => s.cellError);
  if (!selected) {
    return (
      <aside className="pw-details" aria-label="Selected cell" data-testid="details">
        <h3>Selected cell</h3>
        <p className="pw-muted">Click a cell (or focus it and press Enter) to run its exact activation patch.</p>
        {error ? <p className="pw-error" role="alert">{error}</p> : null}
      </aside>
    );
  }
  const { family, index } = selected;
  const a = run.attribution[family];
  const p = patchedFor(run, family);
  if (!a || !p) return null;
  const flat = index.reduce((acc, v, i) => acc * a.shape[i] + v, 0);
  const attr = a.data[flat] * scale.k;
  const act = p.data[flat] * scale.k;
  const isPending = pending === `${family}:${index.join(',')}`;
  const computed = !Number.isNaN(act);
  return (
    <aside className="pw-details" aria-label="Selected cell" data-testid="details">
      <h3>Selected cell</h3>
      <p className="pw-muted">{familyTitle(family)}</p>
      <p className="pw-target" data-testid="details.target">{describeTarget(a.axes, index, { family, tokens: run.tokens })}</p>
      <dl>
        <dt data-testid="details.estimator">{run.method && run.method !== 'atp' ? `${runEstimatorView(run).valueName}` : 'Attribution (estimate)'}</dt>
        <dd data-testid="details.attribution" data-value={attr}>{formatPrecise(attr)} <span className="pw-unit">{scale.unit}</span></dd>
        <PairSem run={run} family={family} flat={flat} scale={scale} />
        <dt>Activation patch (exact)</dt>
        <dd data-testid="details.activation" data-value={computed ? act : ''} aria-busy={isPending}>
          {computed ? <>{formatPrecise(act)} <span className="pw-unit">{scale.unit}</span></> : isPending ? 'computing…' : 'not computed'}
        </dd>
        {computed ? (
          <>
            <dt>Estimate − exact</dt>
            <dd data-testid="details.error">{formatPrecise(attr - act)}</dd>
          </>
        ) : null}
      </dl>
      {error ? <p className="pw-error" role="alert">{error}</p> : null}
      <p className="pw-muted pw-small-text">
        {run.spec.direction === 'denoising' ? 'Denoising: clean activation patched into the corrupted run.' : 'Noising: corrupted activation patched into the clean run.'}
        {' '}Values are changes of the metric relative to the patched run{scale.normalised ? ', divided by (clean − corrupted)' : ''}.
      </p>
    </aside>
  );
}
