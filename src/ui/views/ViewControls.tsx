// Per-view display controls (issue 14): what the heatmap cells show and how panels share a colour scale.
import { useId } from 'react';
import { CELL_VALUES, type CellValues } from '../../viz/heatmap/cell-values';
import { SCALE_SHARING } from '../../viz/heatmap/shared-scale';
import { setCellValues, setScaleSharing, useCellValues, useScaleSharing } from './view-options';

export function ViewControls({ tab, computed, sharing = true }: {
  tab: string;
  /** Entries with an exact activation patch in this view. */
  computed: number;
  /** Offer the colour-scale choice (views with more than one panel). */
  sharing?: boolean;
}) {
  const values = useCellValues(tab);
  const share = useScaleSharing(tab);
  const valuesId = useId();
  const scaleId = useId();
  return (
    <div className="pw-view-controls" data-testid="view.controls">
      <label htmlFor={valuesId}>Heatmap values</label>
      <select id={valuesId} value={values} onChange={(e) => setCellValues(tab, e.target.value as CellValues)} data-testid="view.values">
        {CELL_VALUES.map((v) => <option key={v.id} value={v.id}>{v.label}</option>)}
      </select>
      {sharing ? (
        <>
          <label htmlFor={scaleId}>Colour scale</label>
          <select id={scaleId} value={share} onChange={(e) => setScaleSharing(tab, e.target.value as typeof share)} data-testid="view.scale">
            {SCALE_SHARING.map((v) => <option key={v.id} value={v.id}>{v.label}</option>)}
          </select>
        </>
      ) : null}
      {values !== 'estimate' ? (
        <span className="pw-muted" role="status" data-testid="view.values.note">
          {computed === 0
            ? 'No activation patch computed yet: every cell is hatched. Press “Patch every cell”, or click cells.'
            : `Exact values exist for ${computed} cell${computed === 1 ? '' : 's'}; hatched cells are not computed.`}
        </span>
      ) : null}
    </div>
  );
}
