// Loading models into the worker: progress with a speed estimate, cancel, the cache labels of the picker.
import { describeError, isAbort, type LoadProgress, type ModelSource } from '../../worker/protocol';
import { isHubCached } from '../../worker/model-loader';
import { BUILTIN_MODELS, builtin, fetchVocabSubset, modelKey, parseVocabSubset, rememberModel, sourceFor, type ModelChoice } from '../models';
import type { BuiltinModelId } from '../permalink';
import { getState, setState, type LoadState } from '../store';
import { engine, patchSlice } from './shared';
import { cancelSweep } from './sweep';

let loadController: AbortController | null = null;

export async function refreshCached(): Promise<void> {
  const entries = await Promise.all(BUILTIN_MODELS.filter((m) => m.hub).map(async (m) => [m.id, await isHubCached(m.hub!)] as const));
  setState({ cached: Object.fromEntries(entries) });
}

/** Whether a built-in model is a hub model whose weights are in the browser's cache. */
export async function isHubModelCached(id: BuiltinModelId): Promise<boolean> {
  const hub = builtin(id).hub;
  return !!hub && isHubCached(hub);
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
    model: { ...s.model, choice, status: 'loading', progress: { phase: 'config', loaded: 0 }, error: null },
    ...(changed && !opts.keepRun ? { run: { id: null, status: 'idle', error: null, version: s.run.version + 1 }, selected: null } : {}),
  }));
  const track = speedTracker();
  const vocabSubset = fetchVocabSubset(choice);
  try {
    const info = await engine().load(sourceFor(choice), {
      signal: controller.signal,
      onProgress: (p) => { if (loadController === controller) patchSlice('model', { progress: track(p) }); },
    });
    if (loadController !== controller) return false;
    const trainedVocab = parseVocabSubset(await vocabSubset, info.config.dVocab);
    if (loadController !== controller) return false;
    patchSlice('model', { status: 'ready', progress: null, config: info.config, trainedVocab, fromCache: info.fromCache });
    if (choice.kind === 'builtin') rememberModel(choice.id);
    void refreshCached();
    return true;
  } catch (e) {
    if (loadController !== controller) return false;
    const text = isAbort(e) ? 'Download cancelled; nothing was cached.' : describeError(e);
    patchSlice('model', { status: 'error', progress: null, error: text, config: null, trainedVocab: null });
    return false;
  } finally {
    if (loadController === controller) loadController = null;
  }
}

export function cancelLoad(): void {
  loadController?.abort();
}

/** After a new worker: the model that was loaded (or loading) goes back in, keeping the run on screen. */
export async function reloadModel(): Promise<void> {
  const { model } = getState();
  if (model.status === 'ready' || model.status === 'loading') await loadModel(model.choice, { keepRun: true });
}

/** Tests only: load a hub revision that is not in the registry (the download, verify and cache path, for real). */
export async function loadHubForTesting(source: Extract<ModelSource, { kind: 'hub' }>): Promise<{ fromCache: boolean; sha256?: string }> {
  const info = await engine().load(source);
  patchSlice('model', { status: 'ready', config: info.config, trainedVocab: null, fromCache: info.fromCache, error: null });
  return { fromCache: info.fromCache, sha256: info.sha256 };
}
