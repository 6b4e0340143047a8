// Everything that talks to the engine worker: starting it, loading models, running experiments, patching cells,
// sweeping, recovering from a lost GPU device. Components call these; they never hold the client themselves.
import { ExperimentError, resolveExperiment, type Experiment, type InputIssue } from '../engine/patching/experiment';
import { FAMILIES, familyAxes, familyEntry, type Family } from '../engine/patching/families';
import type { ExperimentSpec } from '../engine/patching/types';
import { EngineClient } from '../worker/client';
import { describeError, isAbort, type BackendChoice, type LoadProgress, type ModelSource } from '../worker/protocol';
import { isHubCached } from '../worker/model-loader';
import { BUILTIN_MODELS, modelKey, rememberModel, sourceFor, fetchVocabSubset, parseVocabSubset, type ModelChoice } from './models';
import { getRun, newRunId, patchedFor, putRun, writePatched, type RunResult } from './results';
import { getState, setState, type LoadState, type Selection } from './store';

/** Families computed by every run (those the browser shows): one attribution graph gives them all. */
export const RUN_FAMILIES: Family[] = FAMILIES.filter((f) => familyEntry(f).view);

let client: EngineClient | null = null;
let loadController: AbortController | null = null;
let sweepController: AbortController | null = null;
let runSeq = 0;
let recovering = false;

function engine(): EngineClient {
  if (!client) throw new Error('The engine is not started.');
  return client;
}

function patch<K extends keyof ReturnType<typeof getState>>(key: K, value: Partial<ReturnType<typeof getState>[K]>) {
  setState((s) => ({ [key]: { ...(s[key] as object), ...value } }) as never);
}

// ---- engine and backend ----

export async function startEngine(choice: BackendChoice, forced = false): Promise<void> {
  client?.dispose();
  client = new EngineClient({
    onDeviceLost: (message) => void recoverFromDeviceLoss(message),
    onCrash: (message) => setState({ notice: { kind: 'error', text: `The engine stopped: ${message}. Reload the page.` } }),
  });
  patch('backend', { choice, forced, active: null });
  // A loaded model is gone with the old worker: nothing may run until reloadModel() has put it back.
  if (getState().model.status === 'ready') patch('model', { status: 'loading', progress: { phase: 'config', loaded: 0 } });
  try {
    const r = await client.init(choice);
    patch('backend', { active: r.backend, webgpu: r.webgpu });
  } catch (e) {
    // A forced WebGPU that cannot start: say so and fall back to wasm rather than leave the app dead.
    setState({ notice: { kind: 'error', text: `Could not start the ${choice} backend (${describeError(e)}); using wasm.` } });
    const r = await client.init('wasm');
    patch('backend', { choice: 'wasm', active: r.backend, webgpu: r.webgpu });
  }
}

export async function switchBackend(choice: BackendChoice): Promise<void> {
  cancelSweep();
  await startEngine(choice);
  await reloadModel();
}

async function reloadModel(): Promise<void> {
  const { model } = getState();
  if (model.status === 'ready' || model.status === 'loading') await loadModel(model.choice, { keepRun: true });
}

/** The worker posts deviceLost when WebGPU's device goes away: a fresh worker gets a fresh device. */
const deviceLosses: number[] = [];

export async function recoverFromDeviceLoss(message: string): Promise<void> {
  if (recovering) return;
  recovering = true;
  // A device that keeps dying (driver resets, a GPU that cannot hold the model) would restart forever: after the
  // third loss in two minutes, fall back to wasm and say so.
  const now = Date.now();
  deviceLosses.push(now);
  while (deviceLosses.length && now - deviceLosses[0] > 120_000) deviceLosses.shift();
  const giveUp = deviceLosses.length >= 3;
  setState({ notice: { kind: 'info', text: `The GPU device was lost (${message}). Restarting the engine${giveUp ? ' on wasm' : ''} and reloading the model…` } });
  try {
    cancelSweep();
    await startEngine(giveUp ? 'wasm' : getState().backend.choice, getState().backend.forced);
    await reloadModel();
    setState({
      notice: {
        kind: 'info',
        text: `The GPU device was lost (${message}); the engine restarted${giveUp ? ' on wasm (the GPU was lost three times)' : ''} and the model was reloaded.`,
      },
    });
  } finally {
    recovering = false;
  }
}

// ---- models ----

export async function refreshCached(): Promise<void> {
  const entries = await Promise.all(BUILTIN_MODELS.filter((m) => m.hub).map(async (m) => [m.id, await isHubCached(m.hub!)] as const));
  setState({ cached: Object.fromEntries(entries) });
}

function speedTracker() {
  const samples: { t: number; loaded: number }[] = [];
  return (p: LoadProgress): LoadState => {
    if (p.phase !== 'download') return { ...p };
    const t = performance.now();
    samples.push({ t, loaded: p.loaded });
    while (samples.length > 2 && t - samples[0].t > 1500) samples.shift();
    const first = samples[0];
    const dt = (t - first.t) / 1000;
    return { ...p, speed: dt > 0.2 ? (p.loaded - first.loaded) / dt : undefined };
  };
}

export async function loadModel(choice: ModelChoice, opts: { keepRun?: boolean } = {}): Promise<boolean> {
  loadController?.abort();
  const controller = new AbortController();
  loadController = controller;
  cancelSweep();
  const changed = modelKey(choice) !== modelKey(getState().model.choice) || getState().model.status !== 'ready';
  setState((s) => ({
    model: { ...s.model, choice, status: 'loading', progress: { phase: 'config', loaded: 0 }, error: null, note: null },
    ...(changed && !opts.keepRun ? { run: { id: null, status: 'idle', error: null, version: s.run.version + 1 }, selected: null } : {}),
  }));
  const track = speedTracker();
  const vocabSubset = fetchVocabSubset(choice);
  try {
    const info = await engine().load(sourceFor(choice), {
      signal: controller.signal,
      onProgress: (p) => { if (loadController === controller) patch('model', { progress: track(p) }); },
    });
    if (loadController !== controller) return false;
    const trainedVocab = parseVocabSubset(await vocabSubset, info.config.dVocab);
    if (loadController !== controller) return false;
    setState((s) => ({ model: { ...s.model, status: 'ready', progress: null, config: info.config, trainedVocab, fromCache: info.fromCache } }));
    if (choice.kind === 'builtin') rememberModel(choice.id);
    void refreshCached();
    return true;
  } catch (e) {
    if (loadController !== controller) return false;
    const text = isAbort(e) ? 'Download cancelled; nothing was cached.' : describeError(e);
    setState((s) => ({ model: { ...s.model, status: 'error', progress: null, error: text, config: null, trainedVocab: null } }));
    return false;
  } finally {
    if (loadController === controller) loadController = null;
  }
}

export function cancelLoad(): void {
  loadController?.abort();
}

// ---- experiments ----

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
  const { spec, model } = getState();
  if (model.status !== 'ready') {
    setState({ issues: [{ field: 'pairs', message: 'Load a model first.' }] });
    return null;
  }
  const { issues, exp } = validate(spec);
  setState({ issues });
  if (!exp) return null;
  cancelSweep();
  const seq = ++runSeq;
  const id = newRunId();
  setState((s) => ({ run: { ...s.run, status: 'running', error: null }, cellError: null }));
  const t0 = performance.now();
  try {
    const r = await engine().attribute(spec, RUN_FAMILIES, 'patch');
    if (seq !== runSeq) return null;
    const result: RunResult = {
      id,
      spec,
      modelKey: modelKey(model.choice),
      metric: r.metric,
      tokens: exp.cleanDisplay[0],
      corruptedTokens: exp.corruptedDisplay[0],
      attribution: r.values,
      patched: {},
      elapsedMs: performance.now() - t0,
    };
    putRun(result);
    const sel = getState().selected;
    const keep = sel && fits(result, sel) ? sel : null;
    setState((s) => ({ run: { id, status: 'done', error: null, version: s.run.version + 1 }, selected: keep }));
    if (keep) void patchCell(keep.family, keep.index);
    return result;
  } catch (e) {
    if (seq !== runSeq) return null;
    const err = e as Error & { issues?: InputIssue[] };
    if (err.issues) setState({ issues: err.issues });
    setState((s) => ({ run: { ...s.run, status: 'error', error: describeError(e) } }));
    return null;
  }
}

/**
 * Stops a running attribution. The engine cannot interrupt a graph mid-run, so this restarts the worker (a fresh
 * onnxruntime) and reloads the model, which comes back from the browser's caches; the previous result stays.
 */
export async function cancelRun(): Promise<void> {
  if (getState().run.status !== 'running') return;
  runSeq++;
  setState((s) => ({ run: { ...s.run, status: s.run.id === null ? 'idle' : 'done', error: null } }));
  await startEngine(getState().backend.choice, getState().backend.forced);
  await reloadModel();
}

function fits(r: RunResult, sel: Selection): boolean {
  const a = r.attribution[sel.family];
  return !!a && sel.index.length === a.shape.length && sel.index.every((v, i) => Number.isInteger(v) && v >= 0 && v < a.shape[i]);
}

export function currentRun(): RunResult | undefined {
  return getRun(getState().run.id);
}

const flatIndex = (shape: number[], index: number[]) => index.reduce((acc, v, i) => acc * shape[i] + v, 0);

/** Select a cell and run its exact activation patch (unless already computed). */
export async function selectCell(family: Family, index: number[]): Promise<void> {
  setState((s) => ({ selected: { family, index }, cellError: null, view: { ...s.view, family } }));
  await patchCell(family, index);
}

export async function patchCell(family: Family, index: number[]): Promise<number | null> {
  const r = currentRun();
  if (!r) return null;
  const p = patchedFor(r, family);
  if (!p) return null;
  const flat = flatIndex(p.shape, index);
  if (!Number.isNaN(p.data[flat])) return p.data[flat];
  const key = `${family}:${index.join(',')}`;
  setState({ pendingCell: key });
  try {
    const v = await engine().patch(r.spec, family, index);
    writePatched(r, family, [flat], [v]);
    bump();
    return v;
  } catch (e) {
    if (getState().pendingCell === key) setState({ cellError: describeError(e) });
    return null;
  } finally {
    if (getState().pendingCell === key) setState({ pendingCell: null });
  }
}

function bump() {
  setState((s) => ({ run: { ...s.run, version: s.run.version + 1 } }));
}

export interface SweepTarget {
  family: Family;
  /** Cells to patch; all cells of the family when absent. */
  indices?: number[][];
}

function allCells(shape: number[]): number[][] {
  const out: number[][] = [];
  const total = shape.reduce((a, b) => a * b, 1);
  for (let f = 0; f < total; f++) {
    const idx = new Array<number>(shape.length);
    let rest = f;
    for (let a = shape.length - 1; a >= 0; a--) {
      idx[a] = rest % shape[a];
      rest = Math.floor(rest / shape[a]);
    }
    out.push(idx);
  }
  return out;
}

/** Exact activation patches for every listed cell not yet computed, in chunks so results appear as they come. */
export async function sweep(targets: SweepTarget[], label: string): Promise<void> {
  const r = currentRun();
  if (!r) return;
  cancelSweep();
  const controller = new AbortController();
  sweepController = controller;
  const jobs = targets.flatMap(({ family, indices }) => {
    const p = patchedFor(r, family);
    if (!p) return [];
    const todo = (indices ?? allCells(p.shape)).filter((idx) => Number.isNaN(p.data[flatIndex(p.shape, idx)]));
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
      const values = await engine().patchCells(r.spec, job.family, job.cells, {
        signal: controller.signal,
        onProgress: (p) => { if (sweepController === controller) setState({ sweep: { label, done: done + p.done, total } }); },
      });
      const shape = r.attribution[job.family]!.shape;
      writePatched(r, job.family, job.cells.map((c) => flatIndex(shape, c)), values);
      done += job.cells.length;
      if (sweepController === controller) setState({ sweep: { label, done, total } });
      bump();
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
    const out = await engine().attribute(spec, ['pattern_by_pos'], 'zero');
    const l = out.values.pattern_by_pos!;
    const data = new Float64Array(l.data.length);
    for (let i = 0; i < data.length; i++) data[i] = -l.data[i];
    r.cleanAttention = { axes: l.axes, shape: l.shape, data };
    bump();
  } catch (e) {
    setState({ cellError: describeError(e) });
  }
}

/** Exact patch of one cell of the current run, straight from the worker (the test API uses it). */
export async function exactPatch(family: Family, index: number[]): Promise<number> {
  const r = currentRun();
  if (!r) throw new Error('No run yet.');
  if (index.length !== familyAxes(family).length) throw new Error(`${family} takes ${familyAxes(family).length} indices`);
  return engine().patch(r.spec, family, index);
}

/** Tests only: lose the GPU device; recovery then runs as for a real loss. */
export function simulateDeviceLoss(): Promise<boolean> {
  return engine().debugLoseDevice();
}

/** Tests only: load a hub revision that is not in the registry (the download, verify and cache path, for real). */
export async function loadHubForTesting(source: Extract<ModelSource, { kind: 'hub' }>): Promise<{ fromCache: boolean; sha256?: string }> {
  const info = await engine().load(source);
  setState((s) => ({ model: { ...s.model, status: 'ready', config: info.config, trainedVocab: null, fromCache: info.fromCache, error: null } }));
  return { fromCache: info.fromCache, sha256: info.sha256 };
}
