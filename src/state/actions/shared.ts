// What every group of actions shares: the page's one engine client, the run on screen, and small store helpers.
// Components never hold the client; they call the named actions of the sibling modules.
import type { EngineClient } from '../../worker/client';
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
