// Display options of the result views that do not change any number and are not part of a link (issue 14): which
// values the heatmaps show, whether panels share a colour scale, and whether the details drawer is open.
import { create } from 'zustand';
import type { CellValues } from '../../viz/heatmap/cell-values';
import type { ScaleSharing } from '../../viz/heatmap/shared-scale';

export interface ViewOptions {
  /** Per view tab: estimate, exact activation patch, or estimate - exact. */
  values: Record<string, CellValues>;
  /** Per view tab: 'auto' = panels of one family share a scale, different families each have their own. */
  sharing: Record<string, ScaleSharing>;
  /** Details drawer on narrow screens: null = open while a cell is selected; true/false = the user's choice. */
  detailsOpen: boolean | null;
}

export const useViewOptions = create<ViewOptions>(() => ({ values: {}, sharing: {}, detailsOpen: null }));

export const setCellValues = (tab: string, v: CellValues) => useViewOptions.setState((s) => ({ values: { ...s.values, [tab]: v } }));
export const setScaleSharing = (tab: string, v: ScaleSharing) => useViewOptions.setState((s) => ({ sharing: { ...s.sharing, [tab]: v } }));
export const setDetailsOpen = (open: boolean) => useViewOptions.setState({ detailsOpen: open });

export function useCellValues(tab: string): CellValues {
  return useViewOptions((s) => s.values[tab] ?? 'estimate');
}
export function useScaleSharing(tab: string): ScaleSharing {
  return useViewOptions((s) => s.sharing[tab] ?? 'auto');
}
