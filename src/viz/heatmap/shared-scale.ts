// One colour scale across the panels of a view (issue 14): with a scale per panel, a q/k effect 500x smaller than
// the head output is drawn as dark as the head output. 'auto' shares within a family (same quantity, same units of
// effect) and keeps families apart; 'shared' puts every panel of the view on one scale; 'per-panel' gives each its own.
import { maxAbs } from '../labelled';

export type ScaleSharing = 'auto' | 'shared' | 'per-panel';

export const SCALE_SHARING: readonly { id: ScaleSharing; label: string }[] = [
  { id: 'auto', label: 'shared within a family' },
  { id: 'shared', label: 'one scale for all panels' },
  { id: 'per-panel', label: 'one scale per panel' },
];

export interface PanelValues {
  /** Panels with the same group (the family) share a scale under 'auto'. */
  group: string;
  values: ArrayLike<number>;
}

/** The colour domain's half-width for each panel, in the order given (finite values only; 0 when none). */
export function panelMaxAbs(panels: readonly PanelValues[], sharing: ScaleSharing): number[] {
  const own = panels.map((p) => maxAbs(p.values));
  if (sharing === 'per-panel') return own;
  if (sharing === 'shared') {
    const all = own.reduce((a, b) => Math.max(a, b), 0);
    return own.map(() => all);
  }
  const byGroup = new Map<string, number>();
  panels.forEach((p, i) => byGroup.set(p.group, Math.max(byGroup.get(p.group) ?? 0, own[i])));
  return panels.map((p) => byGroup.get(p.group)!);
}
