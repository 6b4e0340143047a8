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
  /** "Attribute on top": the cells the next runs patch in the base run first (null: plain runs). */
  onTop: SetCell[] | null;
  /** Run the numbers below belong to. */
  runId: number | null;
  result: { joint: number; singles: number[]; sum: number; interaction: number } | null;
  status: 'idle' | 'running' | 'error';
  error: string | null;
}

export const usePatchSet = create<PatchSetState>(() => ({ cells: [], onTop: null, runId: null, result: null, status: 'idle', error: null }));

export const MAX_SET = 16;
export const setCellName = (c: SetCell) => `${c.family}${c.index.map((i) => `[${i}]`).join('')}`;

/** A link's patch set: its cells become the set; with onTop, the next runs patch them first. */
export function applyPatchSetLink(p: { cells: SetCell[]; onTop: boolean } | undefined): void {
  const cells = p?.cells.map((c) => ({ family: c.family, index: [...c.index] })) ?? [];
  usePatchSet.setState({ cells, onTop: p?.onTop ? cells : null, result: null, status: 'idle', error: null });
}

/**
 * The link's part of the patch set: the set's cells (or, on a run computed on top of a set, that run's cells) and
 * whether the run is on top of them. `shownOnTop`: the run on screen is on top (undefined: no run on screen).
 */
export function patchSetLinkState(shownOnTop: boolean | undefined, shownCells?: SetCell[]): { cells: SetCell[]; onTop: boolean } | undefined {
  const s = usePatchSet.getState();
  const onTop = shownOnTop ?? !!s.onTop;
  const cells = onTop ? (shownCells ?? s.onTop ?? s.cells) : s.cells;
  return cells.length ? { cells: cells.map((c) => ({ family: c.family, index: [...c.index] })), onTop } : undefined;
}

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
    // On a run computed on top of a set, every patch here is on top of it too (r.onTop).
    const joint = await engine().jointPatch(r.modelKey, r.spec, cells, undefined, r.onTop);
    const singles: number[] = [];
    for (const c of cells) singles.push(await engine().patch(r.modelKey, r.spec, c.family, c.index, r.onTop));
    const sum = singles.reduce((a, b) => a + b, 0);
    usePatchSet.setState({ status: 'idle', result: { joint, singles, sum, interaction: joint - sum } });
  } catch (e) {
    usePatchSet.setState({ status: 'error', error: describeError(e) });
  }
}
