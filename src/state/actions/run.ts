// The experiment in the editor and its runs: validation as the engine words it, attribution runs, cancel, and the
// clean-only attention attribution computed on demand.
import { ExperimentError, resolveExperiment, type Experiment, type InputIssue } from '../../engine/patching/experiment';
import { FAMILIES, familyAxes, familyEntry, familyShape, type Family } from '../../engine/patching/families';
import type { ExperimentSpec } from '../../engine/patching/types';
import { describeError } from '../../worker/protocol';
import { newRunId, putRun, type RunResult } from '../results';
import { getState, setState, type AppState, type Selection } from '../store';
import { startEngine } from './engine';
import { reloadModel } from './model';
import { setCellName, usePatchSet, type SetCell } from './patch-set';
import { patchCell } from './selection';
import { bumpRun, cannotPatch, currentRun, engine, isCurrentRunGeneration, nextRunGeneration } from './shared';
import { cancelSweep } from './sweep';
import { pairRunRecords, runPairs } from './dataset';

/** Families computed by every run (those the browser shows, neurons on demand): one attribution graph gives them all. */
export const RUN_FAMILIES: Family[] = FAMILIES.filter((f) => familyEntry(f).view && familyEntry(f).view !== 'neurons');

/** Every problem with the spec for this model, as the engine words it; [] when it can run. */
export function validate(spec: ExperimentSpec): { issues: InputIssue[]; exp: Experiment | null } {
  const cfg = getState().model.config;
  if (!cfg) return { issues: [], exp: null };
  try {
    return { issues: [], exp: resolveExperiment(spec, cfg) };
  } catch (e) {
    if (e instanceof ExperimentError) return { issues: e.issues, exp: null };
    return { issues: [{ field: 'pairs', message: describeError(e) }], exp: null };
  }
}

export function setSpec(spec: ExperimentSpec, presetId: string | null = getState().presetId): void {
  setState({ spec, presetId, issues: [] });
}

export async function run(): Promise<RunResult | null> {
  const { spec, model, estimator } = getState();
  const key = model.loadedKey;
  if (model.status !== 'ready' || key === null) {
    setState({ issues: [{ field: 'pairs', message: 'Load a model first.' }] });
    return null;
  }
  // A dataset, or several typed pairs: every pair's own values, their mean and sem (issue 13).
  const pairs = pairRunRecords();
  if (pairs) {
    if (usePatchSet.getState().onTop) {
      setState((s) => ({ run: { ...s.run, status: 'error', error: 'Attribute on top runs one pair at a time: clear the cells patched on top (Clear, plain run) to run the dataset, or keep a single pair.' } }));
      return null;
    }
    return runPairs(pairs.name, pairs.records);
  }
  const { issues, exp } = validate(spec);
  setState({ issues });
  if (!exp) return null;
  const misfits = fitPatchSet(exp.nPos);
  if (usePatchSet.getState().onTop && estimator.method !== 'atp') {
    setState((s) => ({ run: { ...s.run, status: 'error', error: 'Attribute on top works with plain attribution: choose AtP as the estimator, or clear the cells patched on top.' } }));
    return null;
  }
  cancelSweep();
  const generation = nextRunGeneration();
  const id = newRunId();
  setState((s) => ({ run: { ...s.run, status: 'running', error: null }, cellError: null }));
  const t0 = performance.now();
  try {
    const onTop = usePatchSet.getState().onTop ?? undefined;
    const r = await engine().attribute(key, spec, RUN_FAMILIES, 'patch', undefined, estimator, onTop);
    if (!isCurrentRunGeneration(generation)) return null;
    if (misfits.length) setState({ notice: { kind: 'info', text: `Patch set cells ${misfits.join(', ')}: not in this model and prompt, so they were dropped.` } });
    const result: RunResult = {
      id,
      spec,
      model: model.choice,
      modelKey: key,
      metric: r.metric,
      tokens: exp.cleanDisplay[0],
      corruptedTokens: exp.corruptedDisplay[0],
      attribution: r.values,
      patched: {},
      elapsedMs: performance.now() - t0,
      method: r.method,
      steps: r.steps,
      ...(onTop ? { onTop } : {}),
    };
    putRun(result);
    return showResult(result);
  } catch (e) {
    if (!isCurrentRunGeneration(generation)) return null;
    const err = e as Error & { issues?: InputIssue[] };
    if (err.issues) setState({ issues: err.issues });
    setState((s) => ({ run: { ...s.run, status: 'error', error: describeError(e) } }));
    return null;
  }
}

/**
 * Drops patch-set cells (chips and cells on top) that the loaded model and this prompt do not have, as a link made for
 * another model can name; returns their names.
 */
function fitPatchSet(nPos: number): string[] {
  const cfg = getState().model.config!;
  const s = usePatchSet.getState();
  const fits = (c: SetCell) => {
    const shape = familyShape(c.family, cfg, nPos);
    return c.index.length === shape.length && c.index.every((v, i) => v < shape[i]);
  };
  const bad = [...new Set([...s.cells, ...(s.onTop ?? [])].filter((c) => !fits(c)).map(setCellName))];
  if (bad.length) {
    const onTop = s.onTop?.filter(fits) ?? null;
    usePatchSet.setState({ cells: s.cells.filter(fits), onTop: onTop?.length ? onTop : null, result: null });
  }
  return bad;
}

/**
 * Stops a running attribution. The engine cannot interrupt a graph mid-run, so this restarts the worker (a fresh
 * onnxruntime) and reloads the model, which comes back from the browser's caches; the previous result stays.
 */
export async function cancelRun(): Promise<void> {
  if (getState().run.status !== 'running') return;
  nextRunGeneration();
  setState((s) => ({ run: { ...s.run, status: s.run.id === null ? 'idle' : 'done', error: null } }));
  await startEngine(getState().backend.choice, getState().backend.forced);
  await reloadModel();
}

function fits(r: RunResult, sel: Selection): boolean {
  const a = r.attribution[sel.family];
  return !!a && sel.index.length === a.shape.length && sel.index.every((v, i) => Number.isInteger(v) && v >= 0 && v < a.shape[i]);
}

/** Whether the result has attention head `head` (its pattern_by_pos is [layer, head, query_pos, key_pos]). */
export function hasHead(r: RunResult, head: { layer: number; head: number }): boolean {
  const shape = r.attribution.pattern_by_pos?.shape;
  return !!shape && head.layer < shape[0] && head.head < shape[1];
}

/**
 * Puts a stored run on screen: the view and selection it can show (with a notice for what it drops), the run's state
 * done, and the selected cell's exact patch (unless the run cannot patch, e.g. a mixed-length dataset's mean).
 */
export function showResult(result: RunResult, patchable = true): RunResult {
  const { view, selected, dropped } = viewFor(result, getState());
  setState((s) => ({
    run: { id: result.id, status: 'done', error: null, version: s.run.version + 1 },
    view,
    selected,
    ...(dropped.length ? { notice: { kind: 'info' as const, text: `${dropped.join('; ')}: not in this result, so it is not shown.` } } : {}),
  }));
  if (selected && patchable) void patchCell(selected.family, selected.index);
  return result;
}

/**
 * The view and selection checked against a new result: a head or cell that the model does not have (a link made
 * for a bigger model, a head picked before switching to a smaller one) is dropped and named, never drawn (issue 16).
 */
export function viewFor(r: RunResult, s: AppState): { view: AppState['view']; selected: Selection | null; dropped: string[] } {
  const dropped: string[] = [];
  let view = s.view;
  if (view.head && !hasHead(r, view.head)) {
    dropped.push(`Attention head L${view.head.layer}H${view.head.head}`);
    view = { ...view, head: undefined };
  }
  let selected = s.selected;
  if (selected && !fits(r, selected)) {
    dropped.push(`The selected ${selected.family} cell [${selected.index.join(', ')}]`);
    selected = null;
  }
  return { view, selected, dropped };
}

/**
 * "Attention attribution" on the clean prompt alone: sum(pattern * grad) at each pattern entry. The engine's
 * zero-ablation attribution on the noising direction with corrupted = clean is sum((0 - pattern) * grad), i.e.
 * exactly its negation.
 */
export async function computeCleanAttention(): Promise<void> {
  const r = currentRun();
  if (!r || r.cleanAttention) return;
  const spec: ExperimentSpec = { ...r.spec, direction: 'noising', pairs: r.spec.pairs.map((p) => ({ ...p, corrupted: p.clean })) };
  try {
    const refused = cannotPatch(r);
    if (refused) return void setState({ cellError: refused });
    const out = await engine().attribute(r.modelKey, spec, ['pattern_by_pos'], 'zero');
    const l = out.values.pattern_by_pos!;
    const data = new Float64Array(l.data.length);
    for (let i = 0; i < data.length; i++) data[i] = -l.data[i];
    r.cleanAttention = { axes: l.axes, shape: l.shape, data };
    bumpRun();
  } catch (e) {
    setState({ cellError: describeError(e) });
  }
}

/** Exact patch of one cell of the current run, straight from the worker (the test API uses it). */
export async function exactPatch(family: Family, index: number[]): Promise<number> {
  const r = currentRun();
  if (!r) throw new Error('No run yet.');
  if (index.length !== familyAxes(family).length) throw new Error(`${family} takes ${familyAxes(family).length} indices`);
  return engine().patch(r.modelKey, r.spec, family, index, r.onTop);
}

/**
 * "Attribute on top" (issue 11): runs again with the patch set's cells already patched in the base run, so every view
 * shows what is left to explain once they are restored. Attribution on a patched run is plain AtP.
 */
export async function attributeOnTop(): Promise<RunResult | null> {
  const { cells } = usePatchSet.getState();
  if (!cells.length) return null;
  if (getState().estimator.method !== 'atp') {
    usePatchSet.setState({ error: 'Attribute on top works with plain attribution: choose AtP as the estimator first.' });
    return null;
  }
  usePatchSet.setState({ onTop: cells.map((c) => ({ family: c.family, index: [...c.index] })), error: null });
  return run();
}

/** Back to plain runs: forgets the set on top and runs again. */
export async function clearOnTop(): Promise<RunResult | null> {
  usePatchSet.setState({ onTop: null });
  return run();
}
