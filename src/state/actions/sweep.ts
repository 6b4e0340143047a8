// Exact activation patches of many cells ("Patch every cell"), in chunks so results appear as they come.
import { cells } from '../../engine/patching/labelled';
import type { Family } from '../../engine/patching/types';
import { describeError, isAbort } from '../../worker/protocol';
import { flatIndex, patchedFor, writePatched } from '../results';
import { getState, setState } from '../store';
import { bumpRun, cannotPatch, currentRun, engine } from './shared';
import { notUpstreamOf } from '../metric-site';

export interface SweepTarget {
  family: Family;
  /** Cells to patch; all cells of the family when absent. */
  indices?: number[][];
}

let sweepController: AbortController | null = null;

/** Exact activation patches for every listed cell not yet computed. */
export async function sweep(targets: SweepTarget[], label: string): Promise<void> {
  const r = currentRun();
  if (!r) return;
  cancelSweep();
  const refused = cannotPatch(r);
  if (refused) {
    setState({ cellError: refused });
    return;
  }
  const controller = new AbortController();
  sweepController = controller;
  const blocked = notUpstreamOf(r.spec.metric);
  const jobs = targets.flatMap(({ family, indices }) => {
    const p = patchedFor(r, family);
    if (!p) return [];
    // Cells not upstream of an internal metric (issue 13) are never patched: they cannot change it.
    const todo = (indices ?? [...cells(p.shape)]).filter((idx) => Number.isNaN(p.data[flatIndex(p.shape, idx)]) && !blocked?.(family, idx));
    const chunk = Math.max(16, Math.ceil(todo.length / Math.max(1, r.attribution[family]!.shape[0])));
    const out: { family: Family; cells: number[][] }[] = [];
    for (let i = 0; i < todo.length; i += chunk) out.push({ family, cells: todo.slice(i, i + chunk) });
    return out;
  });
  const total = jobs.reduce((n, j) => n + j.cells.length, 0);
  let done = 0;
  setState({ sweep: { label, done: 0, total } });
  try {
    for (const job of jobs) {
      if (controller.signal.aborted) break;
      const values = await engine().patchCells(r.modelKey, r.spec, job.family, job.cells, {
        signal: controller.signal,
        onProgress: (p: { done: number }) => { if (sweepController === controller) setState({ sweep: { label, done: done + p.done, total } }); },
      }, r.onTop);
      const shape = r.attribution[job.family]!.shape;
      writePatched(r, job.family, job.cells.map((c) => flatIndex(shape, c)), values);
      done += job.cells.length;
      if (sweepController === controller) setState({ sweep: { label, done, total } });
      bumpRun();
    }
  } catch (e) {
    if (!isAbort(e) && sweepController === controller) setState({ cellError: describeError(e) });
  } finally {
    if (sweepController === controller) {
      sweepController = null;
      setState({ sweep: null });
    }
  }
}

export function cancelSweep(): void {
  sweepController?.abort();
  sweepController = null;
  if (getState().sweep) setState({ sweep: null });
}
