// The app's side of permalinks: the store <-> PermalinkState, the URL fragment kept in step, and opening a link
// (which reproduces and recomputes the experiment). The codec itself is permalink.ts.
import { applyCircuitLink, circuitLinkState, currentRun, loadModel, run } from './actions';
import { applyPatchSetLink, patchSetLinkState } from './actions/patch-set';
import { DEFAULT_MODEL, modelKey, type ModelChoice } from './models';
import { applyLinkPair, linkExperiment, nextRunSpec } from './actions/dataset';
import { useDatasetStore } from './dataset';
import { canonicalJson, decodePermalink, encodePermalink, needsConfirmation, type PermalinkState } from './permalink';
import { DEFAULT_ESTIMATOR, DEFAULT_VIEW, getState, setState, type ViewState } from './store';

export interface LinkBuild {
  state: PermalinkState;
  /** Set when something could not go into the link, or the link is not what the editor shows. */
  warning?: string;
}

/**
 * The link of what is on screen: the result's own experiment and model when there is a result (so the receiver
 * sees the same numbers, issue 14 item 4), else the editor's experiment and the loaded model.
 */
export function currentLinkState(): LinkBuild {
  const s = getState();
  const shown = currentRun();
  const m = shown?.model ?? s.model.choice;
  const warnings: string[] = [];
  let model: PermalinkState['model'];
  if (m.kind === 'builtin') model = { kind: 'builtin', id: m.id };
  else if (m.kind === 'url') model = { kind: 'url', url: m.url };
  else {
    model = { kind: 'builtin', id: DEFAULT_MODEL };
    warnings.push('A model loaded from your disk cannot travel in a link: the link names the offline toy model instead.');
  }
  // A dataset goes into the link when it fits (at most 16 plain pairs), else the link says it does not carry it.
  const linked = linkExperiment(shown, s.spec);
  if (linked.warning) warnings.push(linked.warning);
  else if (shown && canonicalJson(linked.experiment) !== canonicalJson(nextRunSpec(s.spec, useDatasetStore.getState().dataset))) {
    warnings.push('The link shares the results on screen; your edits since the last run are not in it (press Run to share them).');
  }
  const warning = warnings.length ? warnings.join(' ') : undefined;
  const { tab, family, normalised, head, attentionMode, perPosition } = s.view;
  const state: PermalinkState = {
    model,
    experiment: linked.experiment,
    view: { tab, family, normalised, ...(head ? { head } : {}), attentionMode, perPosition, ...(linked.pair !== undefined ? { pair: linked.pair } : {}), ...(tab === 'circuit' ? { circuit: circuitLinkState() } : {}) },
    ...(s.selected ? { selected: s.selected } : {}),
  };
  // The estimator of the result on screen (else the one chosen for the next Run); plain AtP stays out of the link,
  // so links made before estimators existed and links of AtP runs are the same.
  const estimator = shown ? { method: shown.method ?? 'atp', steps: shown.steps ?? 1 } : s.estimator;
  if (estimator.method !== 'atp') state.estimator = estimator;
  // The patch set; "on top" is the shown run's (a link reproduces the numbers on screen), else the next run's.
  const patchSet = patchSetLinkState(shown ? !!shown.onTop?.length : undefined, shown?.onTop);
  if (patchSet) state.patchSet = patchSet;
  return { state, warning };
}

/** `#v1....` for the current state, or an error message. */
export function currentFragment(): { fragment?: string; error?: string; warning?: string } {
  const { state, warning } = currentLinkState();
  try {
    return { fragment: encodePermalink(state), warning };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Keep the address bar's fragment on the current experiment, without a history entry per change. */
export function syncFragment(): void {
  const { fragment } = currentFragment();
  if (!fragment || fragment === location.hash) return;
  try {
    history.replaceState(history.state, '', fragment);
  } catch {
    /* some embedders forbid it; the copy button still works */
  }
}

/**
 * The view a link asks for. Every field comes from the link; one it leaves out (an older link, or no head picked)
 * takes its default rather than whatever the page showed before, so a link opens the same everywhere.
 */
export function viewFromLink(view: PermalinkState['view']): ViewState {
  const { circuit: _circuit, pair: _pair, ...rest } = view;
  return {
    ...rest,
    attentionMode: view.attentionMode ?? DEFAULT_VIEW.attentionMode,
    perPosition: view.perPosition ?? DEFAULT_VIEW.perPosition,
  };
}

export function linkModelChoice(state: PermalinkState): ModelChoice {
  return state.model.kind === 'builtin' ? { kind: 'builtin', id: state.model.id } : { kind: 'url', url: state.model.url };
}

/**
 * Opens a decoded link. A model named by URL waits for the user's confirmation (pendingLink); a built-in loads
 * at once. Returns false when nothing was applied yet.
 */
export async function openLink(state: PermalinkState, confirmed = false): Promise<boolean> {
  if (needsConfirmation(state) && !confirmed) {
    setState({ pendingLink: state });
    return false;
  }
  setState({ pendingLink: null });
  const choice = linkModelChoice(state);
  const current = getState().model;
  const ok = modelKey(current.choice) === modelKey(choice) && current.status === 'ready' ? true : await loadModel(choice, { keepRun: false });
  // A link whose model does not load changes nothing: its experiment and view apply only once the model is in.
  if (!ok) return false;
  setState({
    spec: state.experiment,
    presetId: null,
    issues: [],
    view: viewFromLink(state.view),
    selected: state.selected ?? null,
    estimator: state.estimator ?? DEFAULT_ESTIMATOR,
  });
  applyCircuitLink(state.view.circuit);
  applyPatchSetLink(state.patchSet);
  applyLinkPair(state.view.pair);
  await run();
  return true;
}

/** A fragment from the address bar; an invalid one leaves everything as it was and says why. */
export async function openFragment(hash: string): Promise<'none' | 'opened' | 'pending' | 'invalid'> {
  if (!hash || hash === '#') return 'none';
  const decoded = decodePermalink(hash);
  if (!decoded.ok) {
    setState({ notice: { kind: 'error', text: `${decoded.error}. Nothing was loaded from it.` } });
    return 'invalid';
  }
  const opened = await openLink(decoded.state);
  return opened ? 'opened' : getState().pendingLink ? 'pending' : 'invalid';
}

/** "Don't load": nothing of the link is applied; the address bar goes back to what is on screen. */
export function declinePendingLink(): void {
  setState({ pendingLink: null, notice: { kind: 'info', text: 'The link\'s model was not loaded; nothing of the link was applied.' } });
  if (currentRun()) syncFragment();
}
