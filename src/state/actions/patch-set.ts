// Patch sets (issue 11): cells of any families gathered by shift-click / Shift+Enter on a heatmap, patched together
// exactly and compared with the sum of their single patches (the interaction is joint - sum).
import type { Family } from '../../engine/patching/types';
import { describeError } from '../../worker/protocol';
import { create } from 'zustand';
import { cannotPatch, currentRun, engine } from './shared';

export interface SetCell {
  family: Family;
  index: number[];
}

export interface PatchSetState {
  cells: SetCell[];
  /** Run the numbers below belong to. */
  runId: number | null;
  result: { joint: number; singles: number[]; sum: number; interaction: number } | null;
  status: 'idle' | 'running' | 'error';
  error: string | null;
}

export const usePatchSet = create<PatchSetState>(() => ({ cells: [], runId: null, result: null, status: 'idle', error: null }));

export const MAX_SET = 16;
export const setCellName = (c: SetCell) => `${c.family}${c.index.map((i) => `[${i}]`).join('')}`;

export function addToPatchSet(family: Family, index: number[]): void {
  usePatchSet.setState((s) => {
    const name = setCellName({ family, index });
    if (s.cells.some((c) => setCellName(c) === name)) return s;
    if (s.cells.length >= MAX_SET) return { ...s, error: `A patch set holds at most ${MAX_SET} cells.` };
    return { cells: [...s.cells, { family, index: [...index] }], result: null, error: null };
  });
}

export function removeFromPatchSet(name: string): void {
  usePatchSet.setState((s) => ({ cells: s.cells.filter((c) => setCellName(c) !== name), result: null, error: null }));
}

export function clearPatchSet(): void {
  usePatchSet.setState({ cells: [], result: null, error: null, status: 'idle' });
}

/** The joint exact patch of the set, each cell's single patch, their sum and the interaction (joint - sum). */
export async function patchTogether(): Promise<void> {
  const r = currentRun();
  const { cells } = usePatchSet.getState();
  if (!r || !cells.length) return;
  const refused = cannotPatch(r);
  if (refused) return void usePatchSet.setState({ status: 'error', error: refused });
  usePatchSet.setState({ status: 'running', error: null, result: null, runId: r.id });
  try {
    const joint = await engine().jointPatch(r.modelKey, r.spec, cells);
    const singles: number[] = [];
    for (const c of cells) singles.push(await engine().patch(r.modelKey, r.spec, c.family, c.index));
    const sum = singles.reduce((a, b) => a + b, 0);
    usePatchSet.setState({ status: 'idle', result: { joint, singles, sum, interaction: joint - sum } });
  } catch (e) {
    usePatchSet.setState({ status: 'error', error: describeError(e) });
  }
}
