// The pair selector (issue 13): every view, tooltip, details panel and exact patch shows either all pairs (their
// mean, with the standard error per cell) or one pair of the run's dataset.
import { selectPair } from '../../state/actions/dataset';
import { syncFragment } from '../../state/link';
import type { RunResult } from '../../state/results';

export function PairSelector({ run }: { run: RunResult }) {
  const p = run.pairs;
  if (!p) return null;
  const value = p.shown === null ? 'all' : String(p.shown);
  return (
    <label className="pw-pair-select" title="Which pair the views show: all pairs (mean ± sem) or one pair">
      <span>Pair</span>
      <select
        aria-label="Pair"
        value={value}
        onChange={(e) => {
          selectPair(e.target.value === 'all' ? null : Number(e.target.value));
          syncFragment();
        }}
        data-testid="pairs.select"
      >
        <option value="all">All pairs (mean of {p.records.length})</option>
        {p.records.map((r, i) => <option key={i} value={i}>Pair {i + 1}{p.name !== 'typed pairs' ? ` (line ${r.line})` : ''}</option>)}
      </select>
    </label>
  );
}
