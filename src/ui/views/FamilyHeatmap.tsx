// One family's attribution as a heatmap, with its exact activation patches where computed; click or Enter patches.
// The view chooses what the cells show (estimate, exact, estimate - exact) and the colour domain (shared scales).
import { useMemo } from 'react';
import type { AxisName, Family } from '../../engine/patching/types';
import { selectCell } from '../../state/actions';
import { scaled, type RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { addToPatchSet } from '../../state/actions/patch-set';
import { Heatmap, type HeatmapOptions } from '../../viz/heatmap/Heatmap';
import { cellValues, cellValuesName, type CellValues } from '../../viz/heatmap/cell-values';
import type { Labelled } from '../../engine/patching/types';
import { familyTitle, Figure, useSvgRef, type Scale } from './common';
import { runEstimatorView } from './estimators/estimator-text';
import { metricCell, notUpstreamOf } from '../../state/metric-site';

export interface FamilyHeatmapProps {
  run: RunResult;
  family: Family;
  scale: Scale;
  rowAxis?: AxisName;
  colAxis?: AxisName;
  fixed?: Partial<Record<AxisName, number>>;
  title?: string;
  subtitle?: string;
  maxAbs?: number;
  cell?: number;
  testid?: string;
  /** Small multiples that share one scale draw the colour bar once. */
  legend?: boolean;
  /** What the cells show; estimate by default. */
  values?: CellValues;
}

/**
 * The numbers a family's heatmap draws in this mode, scaled: the cells' values and the exact patches (NaN = not
 * computed). Cells not upstream of an internal metric are NaN whatever the arrays hold (issue 13), so colour domains,
 * shared scales and exports never count them.
 */
export function shownValues(run: RunResult, family: Family, k: number, mode: CellValues): { data: Labelled; patched: Labelled } | undefined {
  const a = run.attribution[family];
  if (!a) return undefined;
  const p = run.patched[family];
  const estimate = scaled(a, k);
  // Always a patched layer (all NaN until computed) so the legend and tooltips say what is not computed yet.
  const patched = p ? scaled(p, k) : { axes: a.axes, shape: a.shape, data: new Float64Array(a.data.length).fill(NaN) };
  const data = cellValues(estimate, patched, mode);
  const blocked = notUpstreamOf(run.spec.metric);
  if (!blocked) return { data, patched };
  // The layer is the first axis of every family: one test per layer, the whole block of the layer blanked.
  const per = a.data.length / a.shape[0];
  const blank = (l: Labelled) => {
    const out = new Float64Array(l.data);
    for (let layer = 0; layer < a.shape[0]; layer++) if (blocked(family, [layer])) out.fill(NaN, layer * per, (layer + 1) * per);
    return { axes: l.axes, shape: l.shape, data: out };
  };
  return { data: blank(data), patched: blank(patched) };
}

export function FamilyHeatmap({ run, family, scale, rowAxis, colAxis, fixed, title, subtitle, maxAbs, cell, testid, legend = true, values = 'estimate' }: FamilyHeatmapProps) {
  const selected = useStore((s) => (s.selected?.family === family ? s.selected.index : null));
  const svg = useSvgRef();
  const a = run.attribution[family];
  const p = run.patched[family];
  const shown = useMemo(() => shownValues(run, family, scale.k, values), [run, family, a, p, scale.k, values]);
  const data = shown?.data;
  const patched = shown?.patched;
  const semRaw = run.sem?.[family];
  const sem = useMemo(() => (semRaw ? scaled(semRaw, Math.abs(scale.k)) : undefined), [semRaw, scale.k]);
  // A metric on an internal activation (issue 13): cells at or after its hook (one function per run and family, so
  // the heatmap's model is not rebuilt on every render).
  const notUpstream = useMemo(() => {
    const blocked = notUpstreamOf(run.spec.metric);
    return blocked ? (index: readonly number[]) => blocked(family, index) : undefined;
  }, [run.spec.metric, family]);
  if (!data) return null;
  const estimator = runEstimatorView(run);
  const options: Partial<HeatmapOptions> = {
    notUpstream,
    metricCell: metricCell(run.spec.metric, family),
    // Which estimator the values are (issue 12); magnitudes (GradDrop, AtP*) on a sequential scale.
    valueName: cellValuesName(values, estimator.valueName),
    // Exact patches and differences are signed whatever the estimator: a diverging scale for them.
    sequential: values === 'estimate' && estimator.sequential,
    rowAxis,
    colAxis,
    fixed,
    family,
    tokens: run.tokens,
    unit: scale.unit,
    maxAbs,
    legend,
    ariaLabel: `${title ?? familyTitle(family)} ${cellValuesName(values, estimator.valueName)} heatmap`,
    ...cellSize(cell, data.shape[data.axes.indexOf(colAxis ?? data.axes[1])]),
  };
  return (
    <Figure title={title ?? familyTitle(family)} subtitle={subtitle} run={run} family={family} scale={scale} svg={svg.get} testid={testid} values={values}>
      <Heatmap
        data={data}
        patched={patched}
        sem={sem}
        options={options}
        selected={selected}
        onSelect={(index) => void selectCell(family, index)}
        onAdd={(index) => addToPatchSet(family, index)}
        svgRef={svg.ref}
      />
    </Figure>
  );
}

/** Small grids (the toy model's 2 x 4) get bigger cells so they stay easy to hit and read. */
function cellSize(fixed: number | undefined, nCols: number): { cellWidth?: number; cellHeight?: number } {
  if (fixed) return { cellWidth: fixed, cellHeight: fixed };
  if (nCols <= 8) return { cellWidth: 30, cellHeight: 24 };
  if (nCols <= 16) return { cellWidth: 24, cellHeight: 20 };
  return {};
}
