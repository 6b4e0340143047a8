// The patch set (issue 11): chips of the cells shift-clicked on any heatmap, and "Patch together": joint exact patch,
// sum of single patches and their interaction.
import { attributeOnTop, clearOnTop } from '../../state/actions';
import { clearPatchSet, patchTogether, removeFromPatchSet, setCellName, usePatchSet } from '../../state/actions/patch-set';
import { syncFragment } from '../../state/link';
import type { RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { formatValue } from '../../viz/format';
import { useEffect } from 'react';
import './circuit/circuit.css';

export function PatchSetBar() {
  const { cells, result, status, error, runId } = usePatchSet();
  const current = useStore((s) => s.run.id);
  const running = useStore((s) => s.run.status === 'running');
  // The address bar follows the set (the link carries it).
  useEffect(() => {
    if (current !== null) syncFragment();
  }, [cells, current]);
  if (!cells.length && !error) {
    return <p className="pw-muted pw-patchset-hint" data-testid="patchset.hint">Shift-click (or Shift+Enter) cells of any heatmap to build a patch set.</p>;
  }
  const shown = result && runId === current ? result : null;
  return (
    <div className="pw-row pw-wrap pw-patchset" role="group" aria-label="Patch set" data-testid="patchset">
      <span>Patch set:</span>
      {cells.map((c) => {
        const name = setCellName(c);
        return (
          <span key={name} className="pw-chip" data-testid="patchset.chip">
            {name}
            <button type="button" aria-label={`Remove ${name} from the patch set`} onClick={() => removeFromPatchSet(name)}>×</button>
          </span>
        );
      })}
      <button type="button" disabled={!cells.length || status === 'running'} onClick={() => void patchTogether()} data-testid="patchset.patch">
        Patch together
      </button>
      <button
        type="button"
        disabled={!cells.length || running}
        onClick={() => void attributeOnTop()}
        title="Run again with these cells already patched: every view then shows what is left once they are restored"
        data-testid="patchset.ontop"
      >
        Attribute on top
      </button>
      <button type="button" onClick={clearPatchSet} data-testid="patchset.clear">Clear set</button>
      {status === 'running' ? <span>computing…</span> : null}
      {shown ? (
        <span data-testid="patchset.result">
          joint <strong data-testid="patchset.joint" data-value={shown.joint}>{formatValue(shown.joint)}</strong>
          {' · '}sum of singles <strong data-testid="patchset.sum" data-value={shown.sum}>{formatValue(shown.sum)}</strong>
          {' · '}interaction <strong data-testid="patchset.interaction" data-value={shown.interaction}>{formatValue(shown.interaction)}</strong>
        </span>
      ) : null}
      {error ? <span className="pw-error" role="alert">{error}</span> : null}
    </div>
  );
}

/** The banner over every view of a run computed on top of a patch set, with the way back to plain runs. */
export function OnTopBanner({ run }: { run: RunResult }) {
  const running = useStore((s) => s.run.status === 'running');
  if (!run.onTop?.length) return null;
  const names = run.onTop.map(setCellName);
  return (
    <p className="pw-warning pw-row pw-wrap" role="status" data-testid="ontop.banner" data-cells={names.join(',')}>
      <span>
        Attribute on top: every view shows this run with {names.length} cell{names.length === 1 ? '' : 's'} already patched
        ({names.join(', ')}); values are changes from that patched run, and exact patches are on top of it too.
      </span>
      <button type="button" disabled={running} onClick={() => void clearOnTop()} data-testid="ontop.clear">
        Clear (plain run)
      </button>
    </p>
  );
}
