import { afterEach, describe, expect, it } from 'vitest';
import { addToPatchSet, applyPatchSetLink, usePatchSet } from './actions/patch-set';
import { currentLinkState, viewFromLink } from './link';
import { decodePermalink, encodePermalink } from './permalink';
import { DEFAULT_VIEW, getState, setState } from './store';

const initial = getState();
afterEach(() => setState(initial, true));

describe('the store <-> link view', () => {
  it('puts the attention mode and per-position toggle into the link', () => {
    setState({ view: { ...DEFAULT_VIEW, tab: 'attention', attentionMode: 'clean', perPosition: true } });
    const { state } = currentLinkState();
    expect(state.view).toMatchObject({ tab: 'attention', attentionMode: 'clean', perPosition: true });
    const r = decodePermalink(encodePermalink(state));
    expect(r.ok && viewFromLink(r.state.view)).toEqual(getState().view);
  });

  it('opens an older link without them at the defaults, not at what the page showed before', () => {
    const view = viewFromLink({ tab: 'heads', family: 'head_out', normalised: true });
    expect(view).toEqual({ tab: 'heads', family: 'head_out', normalised: true, attentionMode: 'pair', perPosition: false });
    expect(viewFromLink({ ...view, attentionMode: 'clean', perPosition: true })).toMatchObject({ attentionMode: 'clean', perPosition: true });
  });
});

describe('the patch set in links', () => {
  afterEach(() => applyPatchSetLink(undefined));

  it('carries the set and, with no run on screen, whether the next run is on top of it', () => {
    addToPatchSet('head_out_all_pos', [1, 0]);
    addToPatchSet('mlp_out', [0, 6]);
    expect(currentLinkState().state.patchSet).toEqual({ cells: [{ family: 'head_out_all_pos', index: [1, 0] }, { family: 'mlp_out', index: [0, 6] }], onTop: false });
    usePatchSet.setState({ onTop: usePatchSet.getState().cells });
    const { state } = currentLinkState();
    expect(state.patchSet?.onTop).toBe(true);
    // Opening the link gives back the same set and on-top state.
    const r = decodePermalink(encodePermalink(state));
    applyPatchSetLink(undefined);
    expect(usePatchSet.getState().cells).toEqual([]);
    applyPatchSetLink(r.ok ? r.state.patchSet : undefined);
    expect(usePatchSet.getState().cells).toEqual(state.patchSet!.cells);
    expect(usePatchSet.getState().onTop).toEqual(state.patchSet!.cells);
  });

  it('leaves an empty set out of the link', () => {
    expect(currentLinkState().state.patchSet).toBeUndefined();
  });
});
