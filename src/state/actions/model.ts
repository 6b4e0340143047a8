// Loading models into the worker: progress with a speed estimate, cancel, the cache labels of the picker.
import { describeError, isAbort, WorkerError, type LoadProgress, type ModelSource } from '../../worker/protocol';
import { isHubCached } from '../../worker/model-loader';
import {
  BUILTIN_MODELS, builtin, fetchVocabSubset, modelKey, modelLabel, parseVocabSubset, rememberModel, sourceFor, type ModelChoice,
} from '../models';
import { getRun } from '../results';
import type { BuiltinModelId } from '../permalink';
import { getState, setState, type LoadState } from '../store';
import { engine, nextRunGeneration, patchSlice } from './shared';
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

/**
 * Loads a model into the worker. Until the new model is in, the previous one and the result on screen stay (the
 * result is marked stale and cannot be patched while another model loads); a load that fails, is cancelled or is
 * refused leaves the previous model loaded and says why, with Retry (issue 16: failed loads change nothing).
 * A different model that does load discards the result, which belongs to the old one; `keepRun` (the same model
 * back into a fresh worker) keeps it.
 */
export async function loadModel(choice: ModelChoice, opts: { keepRun?: boolean } = {}): Promise<boolean> {
  loadController?.abort();
  const controller = new AbortController();
  loadController = controller;
  cancelSweep();
  // An attribution still running belongs to the model being replaced: its result is dropped when it lands.
  nextRunGeneration();
  const before = getState().model;
  const key = modelKey(choice);
  setState((s) => ({
    model: { ...s.model, choice, status: 'loading', progress: { phase: 'config', loaded: 0 }, error: null, failed: null },
    pendingRedirect: null,
    ...(s.run.status === 'running' ? { run: { ...s.run, status: s.run.id === null ? 'idle' : 'done' } } : {}),
  }));
  const track = speedTracker();
  const vocabSubset = fetchVocabSubset(choice);
  try {
    const info = await engine().load(sourceFor(choice), key, {
      signal: controller.signal,
      onProgress: (p) => { if (loadController === controller) patchSlice('model', { progress: track(p) }); },
    });
    if (loadController !== controller) return false;
    const trainedVocab = parseVocabSubset(await vocabSubset, info.config.dVocab);
    if (loadController !== controller) return false;
    const run = getState().run;
    const stale = !opts.keepRun && run.id !== null && getRun(run.id)?.modelKey !== key;
    setState((s) => ({
      model: {
        ...s.model, status: 'ready', progress: null, config: info.config, trainedVocab, fromCache: info.fromCache,
        loadedKey: key, servedFrom: info.servedFrom ?? null,
      },
      ...(stale ? { run: { id: null, status: 'idle', error: null, version: s.run.version + 1 }, selected: null, cellError: null } : {}),
    }));
    if (choice.kind === 'builtin') rememberModel(choice.id);
    void refreshCached();
    return true;
  } catch (e) {
    if (loadController !== controller) return false;
    const text = isAbort(e) ? 'Download cancelled; nothing was cached.' : describeError(e);
    const redirectedTo = e instanceof WorkerError && e.name === 'CrossOriginRedirect' ? e.redirectedTo : undefined;
    if (redirectedTo && choice.kind === 'url') {
      setState({ pendingRedirect: { choice, from: new URL(choice.url).origin, to: redirectedTo } });
    }
    // The worker drops the previous model only once the new one has been read; ask which it holds now.
    const held = await engine().loaded().catch(() => null);
    if (loadController !== controller) return false;
    if (before.status === 'ready' && held !== null && held === before.loadedKey) {
      setState({ model: { ...before, error: `Could not load ${modelLabel(choice)}: ${text}`, failed: choice } });
    } else {
      patchSlice('model', { status: 'error', progress: null, error: text, config: null, trainedVocab: null, loadedKey: held, failed: null });
    }
    return false;
  } finally {
    if (loadController === controller) loadController = null;
  }
}

export function cancelLoad(): void {
  loadController?.abort();
}

/** The user trusts the origin a URL model's server redirected to: load the model from there. */
export async function confirmRedirect(): Promise<boolean> {
  const pending = getState().pendingRedirect;
  if (!pending) return false;
  return loadModel({ ...pending.choice, allowOrigin: pending.to });
}

export function declineRedirect(): void {
  setState({ pendingRedirect: null });
}

/** After a new worker: the model that was loaded (or loading) goes back in, keeping the run on screen. */
export async function reloadModel(): Promise<void> {
  const { model } = getState();
  if (model.status === 'ready' || model.status === 'loading') await loadModel(model.choice, { keepRun: true });
}

/** Tests only: load a hub revision that is not in the registry (the download, verify and cache path, for real). */
export async function loadHubForTesting(source: Extract<ModelSource, { kind: 'hub' }>): Promise<{ fromCache: boolean; sha256?: string }> {
  const key = `hub:${source.repo}@${source.commit}`;
  const info = await engine().load(source, key);
  patchSlice('model', { status: 'ready', config: info.config, trainedVocab: null, fromCache: info.fromCache, error: null, loadedKey: key });
  return { fromCache: info.fromCache, sha256: info.sha256 };
}
