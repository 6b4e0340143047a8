// What every group of actions shares: the page's one engine client, the run on screen, and small store helpers.
// Components never hold the client; they call the named actions of the sibling modules.
import type { EngineClient } from '../../worker/client';
import { modelKey, modelLabel } from '../models';
import { getRun, type RunResult } from '../results';
import { getState, setState, type AppState } from '../store';

let client: EngineClient | null = null;

export function engine(): EngineClient {
  if (!client) throw new Error('The engine is not started.');
  return client;
}

/** Stops the old worker (every request in flight fails) and makes `next` the page's client. */
export function replaceClient(next: EngineClient): void {
  client?.dispose();
  client = next;
}

/** Merges `value` into one object slice of the store. */
export function patchSlice<K extends 'backend' | 'model' | 'run' | 'view'>(key: K, value: Partial<AppState[K]>): void {
  setState((s) => ({ [key]: { ...s[key], ...value } }) as Pick<AppState, K>);
}

/** Patched values of the current run changed in the results cache: views re-read it. */
export function bumpRun(): void {
  setState((s) => ({ run: { ...s.run, version: s.run.version + 1 } }));
}

export function currentRun(): RunResult | undefined {
  return getRun(getState().run.id);
}

let runGeneration = 0;

/** A new generation of runs: an attribution still in flight from an older one is dropped when it lands. */
export function nextRunGeneration(): number {
  return ++runGeneration;
}

export function isCurrentRunGeneration(g: number): boolean {
  return g === runGeneration;
}

/**
 * Why a result cannot be patched further, or null when it can: a click or sweep on a result patches with the
 * result's own spec on the model it was computed on, never on another model (issue 16).
 */
export function cannotPatch(r: RunResult, model: AppState['model'] = getState().model): string | null {
  if (r.pairs?.unpatchable) return r.pairs.unpatchable;
  if (model.status === 'ready' && model.loadedKey === r.modelKey) return null;
  if (model.status === 'loading' && modelKey(model.choice) === r.modelKey) {
    return `${modelLabel(r.model)} is being loaded into a new engine: wait until it is ready.`;
  }
  const now = model.status === 'loading' ? `${modelLabel(model.choice)} is loading`
    : model.loadedKey ? `${modelLabel(model.choice)} is loaded now` : 'no model is loaded now';
  return `These results were computed on ${modelLabel(r.model)}, but ${now}: press Run to compute them on the model that is loaded.`;
}
