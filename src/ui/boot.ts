// Start-up: the engine (on the backend a `?backend=` query forces, else the best available), then either the
// experiment in the URL fragment or the default: the remembered hub model when it is cached, else the offline one.
import { applyDefaultPreset } from './editor/preset-switch';
import { isHubModelCached, loadModel, refreshCached, startEngine } from '../state/actions';
import { openFragment, syncFragment } from '../state/link';
import { DEFAULT_MODEL, rememberedModel, type ModelChoice } from '../state/models';
import { DEFAULT_SPEC, getState } from '../state/store';

export function forcedBackend(search: string): 'wasm' | 'webgpu' | null {
  const b = new URLSearchParams(search).get('backend');
  return b === 'wasm' || b === 'webgpu' ? b : null;
}

export async function boot(): Promise<void> {
  const forced = forcedBackend(location.search);
  await startEngine(forced ?? 'auto', forced !== null);
  void refreshCached();
  window.addEventListener('hashchange', () => {
    // Our own replaceState never fires this: it is a link pasted or edited by hand. A bad one leaves the
    // experiment as it was, and the address bar goes back to the experiment's own link.
    void openFragment(location.hash).then((outcome) => { if (outcome === 'invalid') syncFragment(); });
  });
  const outcome = await openFragment(location.hash);
  if (outcome === 'opened' || outcome === 'pending') return;
  if (outcome === 'invalid' && getState().model.status !== 'idle') return;
  await loadDefault();
}

/**
 * The remembered hub model when it is in the cache, else the offline model; with its first preset unless the user
 * has already typed an experiment (text typed while the app starts is kept, issue 14 item 1).
 */
export async function loadDefault(): Promise<void> {
  let choice: ModelChoice = { kind: 'builtin', id: DEFAULT_MODEL };
  const remembered = rememberedModel();
  if (remembered && (await isHubModelCached(remembered))) choice = { kind: 'builtin', id: remembered };
  if (getState().spec === DEFAULT_SPEC) applyDefaultPreset(choice);
  await loadModel(choice);
}

