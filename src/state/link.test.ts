import { afterEach, describe, expect, it } from 'vitest';
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
