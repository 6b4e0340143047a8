// "Verify top K" for the view on screen: exact patches of the K cells with the largest |estimate| plus R random
// others, with progress and cancel; the patched cells show in the view as clicked ones do, and a summary line per
// family says how the estimate held.
import { useState } from 'react';
import type { Family } from '../../../engine/patching/types';
import { cancelVerify, verifyTopK } from '../../../state/actions';
import type { RunResult } from '../../../state/results';
import { useStore } from '../../../state/store';
import { familyTitle, type Scale } from '../common';
import { runEstimatorView, verificationLine } from './estimator-text';
import { Progress } from '../../Progress';

export function VerifyControls({ run, families, label }: { run: RunResult; families: Family[]; label: string }) {
  const [k, setK] = useState(5);
  const [random, setRandom] = useState(5);
  const state = useStore((s) => s.verify);
  const sweeping = useStore((s) => s.sweep !== null);
  if (!families.length) return null;
  const { label: estimator } = runEstimatorView(run);
  return (
    <span className="pw-row pw-verify" role="group" aria-label="Verify top K">
      <button
        type="button"
        disabled={!!state || sweeping}
        title={`Exact patches of the ${k} cells with the largest |${estimator}| (per family in this view) and ${random} random others`}
        onClick={() => void verifyTopK([...new Set(families)], k, random, label)}
        data-testid="verify.start"
      >
        Verify top K
      </button>
      <label className="pw-row">K
        <input type="number" min={1} max={100} value={k} aria-label="K" style={{ width: '3.5em' }} data-testid="verify.k"
          onChange={(e) => { const n = Number(e.target.value); if (Number.isInteger(n) && n >= 1 && n <= 100) setK(n); }} />
      </label>
      <label className="pw-row">+ random
        <input type="number" min={0} max={100} value={random} aria-label="Random others" style={{ width: '3.5em' }} data-testid="verify.random"
          onChange={(e) => { const n = Number(e.target.value); if (Number.isInteger(n) && n >= 0 && n <= 100) setRandom(n); }} />
      </label>
      {state ? (
        <Progress id="verify" label="Verify top K" done={state.done} total={state.total} onCancel={cancelVerify} />
      ) : null}
    </span>
  );
}

export function VerifySummary({ run, scale }: { run: RunResult; scale: Scale }) {
  const verified = useStore((s) => s.verified);
  if (!verified || verified.runId !== run.id) return null;
  return (
    <div className="pw-verify-summary" role="status" data-testid="verify.summary">
      {verified.lines.map((l) => (
        <p key={l.family} className="pw-small-text" data-testid={`verify.summary.${l.family}`} data-recall={l.recall ?? ''}>
          <strong>{familyTitle(l.family)}</strong>: {verificationLine(l, scale.k)}
        </p>
      ))}
      {verified.error ? <p className="pw-warning" data-testid="verify.error">{verified.error}</p> : null}
    </div>
  );
}
