// How the results are shown: tab, scale, head, attention mode, banners. Named actions, so components never
// write the store themselves.
import type { Family } from '../../engine/patching/types';
import type { AttentionMode } from '../permalink';
import { setState, type ViewTab } from '../store';
import { patchSlice } from './shared';

export function setTab(tab: ViewTab): void {
  patchSlice('view', { tab });
}

export function setNormalised(normalised: boolean): void {
  patchSlice('view', { normalised });
}

export function setPerPosition(perPosition: boolean): void {
  patchSlice('view', { perPosition });
}

export function setAttentionMode(attentionMode: AttentionMode): void {
  patchSlice('view', { attentionMode });
}

/** The head the Attention tab shows. */
export function selectHead(head: { layer: number; head: number }): void {
  patchSlice('view', { head });
}

/** A preset's own view: its tab and family, no head picked, no cell selected. */
export function showPresetView(view: { tab: ViewTab; family: Family }): void {
  setState((s) => ({ view: { ...s.view, tab: view.tab, family: view.family, head: undefined }, selected: null }));
}

export function dismissNotice(): void {
  setState({ notice: null });
}
