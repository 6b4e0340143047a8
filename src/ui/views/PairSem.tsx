// The standard error of the mean over pairs of the selected cell, in the details panel (issue 13): shown while the
// views show all pairs of a run over several pairs.
import type { Family } from '../../engine/patching/types';
import type { RunResult } from '../../state/results';
import { formatPrecise } from '../format';
import type { Scale } from './common';

export function PairSem({ run, family, flat, scale }: { run: RunResult; family: Family; flat: number; scale: Scale }) {
  const sem = run.sem?.[family];
  const p = run.pairs;
  if (!p) return null;
  if (p.shown !== null) {
    return (
      <>
        <dt>Pair</dt>
        <dd data-testid="details.pair">{p.shown + 1} of {p.records.length}{p.name !== 'typed pairs' ? ` (line ${p.records[p.shown].line})` : ''}</dd>
      </>
    );
  }
  if (!sem) return null;
  const v = sem.data[flat] * Math.abs(scale.k);
  return (
    <>
      <dt>Standard error over {p.records.length} pairs</dt>
      <dd data-testid="details.sem" data-value={v}>± {formatPrecise(v)} <span className="pw-unit">{scale.unit}</span></dd>
    </>
  );
}
