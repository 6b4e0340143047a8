// Pieces every view shares: the current run, the raw/normalised scale, family names, and a figure with exports.
import { useMemo, useRef, type ReactNode } from 'react';
import { FAMILY_TABLE } from '../../engine/patching/families';
import { normaliser } from '../../engine/patching/normalise';
import type { AxisName, Family, Labelled } from '../../engine/patching/types';
import { cannotPatch } from '../../state/actions';
import { inputsChanged } from '../../state/actions/dataset';
import { useDatasetStore } from '../../state/dataset';
import { modelKey } from '../../state/models';
import { canonicalJson } from '../../state/permalink';
import { getRun, scaled, type RunResult } from '../../state/results';
import { getState, useStore } from '../../state/store';
import { toCsv, toJson, type AxisLabels } from '../../viz/export/tabular';
import { ExportButtons } from '../../viz/export/ExportButtons';
import { defaultAxisLabels } from '../../viz/labelled';
import { exportTitleLines } from '../../viz/export/title-block';
import { cellValuesName, type CellValues } from '../../viz/heatmap/cell-values';
import { runEstimatorView } from './estimators/estimator-text';

/** A family's title, from the family table. */
export const familyTitle = (f: Family): string => FAMILY_TABLE[f].title;

export const METRIC_UNIT: Record<string, string> = {
  logit_diff: 'logit diff',
  logprob: 'log prob',
  prob: 'prob',
  logit: 'logit',
  basket: 'basket logit diff',
  mean_logprob: 'mean log prob',
  kl: 'KL (nats)',
  attn: 'attention prob',
  prefix: 'prefix score',
  neuron: 'neuron activation',
  dla: 'DLA logit',
};

/** The run on screen; re-renders when its patched values change. */
export function useRun(): RunResult | undefined {
  const id = useStore((s) => s.run.id);
  const version = useStore((s) => s.run.version);
  return useMemo(() => getRun(id), [id, version]);
}

/**
 * Why the result on screen is not the result of what the page now shows (another model loading or loaded, inputs
 * edited since), or null. Results stay tied to the model and inputs they were computed with (issues 14 and 16).
 */
export function useStaleness(run: RunResult | undefined): string | null {
  const model = useStore((s) => s.model);
  const spec = useStore((s) => s.spec);
  const dataset = useDatasetStore((s) => s.dataset);
  return useMemo(() => {
    if (!run) return null;
    const other = cannotPatch(run, model);
    if (other) return other;
    if (run.pairs || dataset ? inputsChanged(run, spec, dataset) : canonicalJson(run.spec) !== canonicalJson(spec)) {
      return 'The inputs were edited after this run: the results on screen are for the previous inputs. Press Run to update them.';
    }
    return null;
  }, [run, model, spec, dataset]);
}

export interface Scale {
  /** Multiply raw values by k. */
  k: number;
  unit: string;
  normalised: boolean;
  warning?: string;
}

export function useScale(run: RunResult | undefined): Scale {
  const normalised = useStore((s) => s.view.normalised);
  return useMemo(() => scaleFor(run, normalised), [run, normalised]);
}

export function scaleFor(run: RunResult | undefined, normalised: boolean): Scale {
  const unit = METRIC_UNIT[run?.spec.metric.name ?? 'logit_diff'] ?? 'metric';
  if (!run || !normalised) return { k: 1, unit, normalised: false };
  const n = normaliser(run.metric);
  if (!Number.isFinite(n.scale)) return { k: 1, unit, normalised: false, warning: n.warning };
  return { k: n.scale, unit: 'normalised', normalised: true };
}

export function axisLabelsFor(run: RunResult, l: Labelled): AxisLabels {
  const labels: AxisLabels = {};
  l.axes.forEach((axis: AxisName, i) => {
    labels[axis] = axis === 'pos' || axis === 'query_pos' || axis === 'key_pos' ? run.tokens : defaultAxisLabels(axis, l.shape[i]);
  });
  return labels;
}

function exportMeta(run: RunResult, family: Family, s: Scale) {
  const m = getState().model;
  return {
    family,
    model: modelKey(m.choice),
    spec: run.spec,
    metric: run.metric,
    unit: s.unit,
    normalised: s.normalised,
    note: 'attribution: linear estimate; activation_patch: exact patch (null = not computed). Values are changes of the metric relative to the unpatched base run.',
  };
}

/** Attribution and activation-patch columns of one family, scaled. */
export function familyColumns(run: RunResult, family: Family, s: Scale): { attribution: Labelled; activation_patch?: Labelled } | null {
  const a = run.attribution[family];
  if (!a) return null;
  const p = run.patched[family];
  return { attribution: scaled(a, s.k), ...(p ? { activation_patch: scaled(p, s.k) } : {}) };
}

/** The title block of an exported image: the figure's title, model, prompts, metric, estimator and cell values. */
export function figureTitleLines(run: RunResult, title: string, scale: Scale, values: CellValues = 'estimate'): string[] {
  const estimator = runEstimatorView(run);
  return exportTitleLines({
    title,
    model: modelKey(getState().model.choice),
    spec: run.spec,
    estimator: estimator.label,
    unit: scale.unit,
    values: values === 'estimate' ? undefined : cellValuesName(values, estimator.valueName),
  });
}

export function Figure({ title, subtitle, run, family, scale, svg, children, testid, data, className, image, values }: {
  title: string;
  subtitle?: ReactNode;
  run: RunResult;
  family: Family;
  scale: Scale;
  svg?: () => SVGSVGElement | null;
  children: ReactNode;
  testid?: string;
  /** What CSV/JSON export; defaults to the family's attribution and activation patch. */
  data?: () => Record<string, Labelled>;
  className?: string;
  /** PNG/SVG for charts that are not our own SVG (plotly). */
  image?: (format: 'png' | 'svg', titleLines: string[]) => Promise<void>;
  /** What the cells show, for the exported title block. */
  values?: CellValues;
}) {
  const stem = `patchwork-${family}${scale.normalised ? '-normalised' : ''}${values && values !== 'estimate' ? `-${values}` : ''}`;
  const columns = () => {
    if (data) return data();
    const c = familyColumns(run, family, scale);
    if (!c) throw new Error('nothing to export');
    return c as Record<string, Labelled>;
  };
  const first = () => Object.values(columns())[0];
  return (
    <figure className={`pw-figure${className ? ` ${className}` : ''}`} data-testid={testid ?? `figure.${family}`}>
      <figcaption>
        <span className="pw-figure-title">{title}</span>
        {subtitle ? <span className="pw-muted"> {subtitle}</span> : null}
        <ExportButtons
          filename={stem}
          svg={svg}
          image={image}
          titleLines={() => figureTitleLines(run, title, scale, values)}
          csv={() => toCsv(columns(), axisLabelsFor(run, first()))}
          json={() => toJson(columns(), axisLabelsFor(run, first()), exportMeta(run, family, scale))}
        />
      </figcaption>
      {/* The chart scrolls within the figure when it is wider than the room it has; the caption and the export
          menu stay in view (issue 14). */}
      <div className="pw-figure-body" data-testid="figure.body">{children}</div>
    </figure>
  );
}

export function useSvgRef() {
  const ref = useRef<SVGSVGElement | null>(null);
  return { ref, get: () => ref.current };
}
