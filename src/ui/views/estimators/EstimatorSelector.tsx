// The estimator the next Run computes (issue 12): AtP, its QK fix, GradDrop, AtP*, integrated gradients with steps.
// Titles and descriptions come from the engine's ESTIMATORS table.
import { ESTIMATORS, METHODS, type Method } from '../../../engine/patching/estimators';
import { setEstimator } from '../../../state/actions';
import { useStore } from '../../../state/store';

export function EstimatorSelector() {
  const { method, steps } = useStore((s) => s.estimator);
  const e = ESTIMATORS[method];
  return (
    <section className="pw-panel pw-estimator" aria-label="Estimator" data-testid="estimator.panel">
      <label className="pw-row">
        <span>Estimator</span>
        <select
          aria-label="Estimator"
          value={method}
          onChange={(ev) => setEstimator(ev.target.value as Method, steps)}
          data-testid="estimator.select"
        >
          {METHODS.map((m) => <option key={m} value={m} title={ESTIMATORS[m].description}>{ESTIMATORS[m].title}</option>)}
        </select>
        {e.steps ? (
          <label className="pw-row">
            <span>steps</span>
            <input
              type="number"
              min={1}
              max={256}
              step={1}
              value={steps}
              aria-label="Integrated-gradient steps"
              onChange={(ev) => {
                const n = Number(ev.target.value);
                if (Number.isInteger(n) && n >= 1 && n <= 256) setEstimator(method, n);
              }}
              data-testid="estimator.steps"
              style={{ width: '4.5em' }}
            />
          </label>
        ) : null}
      </label>
      <p className="pw-muted pw-small-text" data-testid="estimator.description">
        {e.description}{e.signed ? '' : ' Shown as magnitudes (a one-hue scale from 0): the sign is not estimated.'}
      </p>
    </section>
  );
}
