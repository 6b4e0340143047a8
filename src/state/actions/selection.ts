// The selected cell and its exact activation patch.
import type { Family } from '../../engine/patching/types';
import { describeError } from '../../worker/protocol';
import { flatIndex, patchedFor, writePatched } from '../results';
import { getState, setState } from '../store';
import { bumpRun, cannotPatch, currentRun, engine } from './shared';
import { notUpstreamOf } from '../metric-site';

/** Select a cell and run its exact activation patch (unless already computed). */
export async function selectCell(family: Family, index: number[]): Promise<void> {
  setState((s) => ({ selected: { family, index }, cellError: null, view: { ...s.view, family } }));
  await patchCell(family, index);
}

export function clearSelection(): void {
  setState({ selected: null, cellError: null });
}

export async function patchCell(family: Family, index: number[]): Promise<number | null> {
  const r = currentRun();
  if (!r) return null;
  const p = patchedFor(r, family);
  if (!p) return null;
  // Not upstream of an internal metric (issue 13): patching it cannot change the metric; nothing runs (the details
  // panel says why).
  if (notUpstreamOf(r.spec.metric)?.(family, index)) return null;
  const flat = flatIndex(p.shape, index);
  if (!Number.isNaN(p.data[flat])) return p.data[flat];
  const refused = cannotPatch(r);
  if (refused) {
    setState({ cellError: refused });
    return null;
  }
  const key = `${family}:${index.join(',')}`;
  setState({ pendingCell: key });
  try {
    const v = await engine().patch(r.modelKey, r.spec, family, index, r.onTop);
    writePatched(r, family, [flat], [v]);
    bumpRun();
    return v;
  } catch (e) {
    if (getState().pendingCell === key) setState({ cellError: describeError(e) });
    return null;
  } finally {
    if (getState().pendingCell === key) setState({ pendingCell: null });
  }
}
