// One family's attribution as a heatmap, with its exact activation patches where computed; click or Enter patches.
import { useMemo } from 'react';
import type { AxisName, Family } from '../../engine/patching/types';
import { selectCell } from '../../state/actions';
import { scaled, type RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { addToPatchSet } from '../../state/actions/patch-set';
import { Heatmap, type HeatmapOptions } from '../../viz/heatmap/Heatmap';
import { familyTitle, Figure, useSvgRef, type Scale } from './common';
import { runEstimatorView } from './estimators/estimator-text';

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
}

export function FamilyHeatmap({ run, family, scale, rowAxis, colAxis, fixed, title, subtitle, maxAbs, cell, testid, legend = true }: FamilyHeatmapProps) {
  const selected = useStore((s) => (s.selected?.family === family ? s.selected.index : null));
  const svg = useSvgRef();
  const a = run.attribution[family];
  const p = run.patched[family];
  const data = useMemo(() => (a ? scaled(a, scale.k) : undefined), [a, scale.k]);
  // Always pass a patched layer (all NaN until computed) so the legend and tooltips say what is not computed yet.
  const patched = useMemo(
    () => (p ? scaled(p, scale.k) : a ? { axes: a.axes, shape: a.shape, data: new Float64Array(a.data.length).fill(NaN) } : undefined),
    [a, p, scale.k],
  );
  const semRaw = run.sem?.[family];
  const sem = useMemo(() => (semRaw ? scaled(semRaw, Math.abs(scale.k)) : undefined), [semRaw, scale.k]);
  if (!data) return null;
  const estimator = runEstimatorView(run);
  const options: Partial<HeatmapOptions> = {
    // Which estimator the values are (issue 12); magnitudes (GradDrop, AtP*) on a sequential scale.
    valueName: estimator.valueName,
    sequential: estimator.sequential,
    rowAxis,
    colAxis,
    fixed,
    family,
    tokens: run.tokens,
    unit: scale.unit,
    maxAbs,
    legend,
    ariaLabel: `${title ?? familyTitle(family)} ${estimator.valueName} heatmap`,
    ...cellSize(cell, data.shape[data.axes.indexOf(colAxis ?? data.axes[1])]),
  };
  return (
    <Figure title={title ?? familyTitle(family)} subtitle={subtitle} run={run} family={family} scale={scale} svg={svg.get} testid={testid}>
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
