// The four result views. Each says which families it shows, so "Patch every cell" sweeps exactly what is on screen.
import { useEffect, useMemo } from 'react';
import { familiesIn, type Family } from '../../engine/patching/families';
import {
  computeCleanAttention, hasHead, selectCell, selectHead, setAttentionMode, setPerPosition, sweep, type SweepTarget,
} from '../../state/actions';
import { scaled, type RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { AttentionGrid } from '../../viz/attention/AttentionGrid';
import { rankHeads } from '../../viz/attention/attention-model';
import { Scatter } from '../../viz/scatter/Scatter';
import { exportLayout } from '../../viz/scatter/scatter-model';
import { downloadBlob, safeFilename } from '../../viz/export/download';
import type { Layout } from 'plotly.js';
import { familyTitle, Figure, useSvgRef, type Scale } from './common';
import { FamilyHeatmap, shownValues } from './FamilyHeatmap';
import { ViewControls } from './ViewControls';
import { useCellValues, useScaleSharing } from './view-options';
import { computedCount } from '../../viz/heatmap/cell-values';
import { panelMaxAbs } from '../../viz/heatmap/shared-scale';
import { EstimatorComparison } from './estimators/EstimatorScatter';
import { runEstimatorView } from './estimators/estimator-text';
import { RawPatternPanel } from './inspect/RawPattern';
import { metricCell, notUpstreamOf } from '../../state/metric-site';

/** The run's estimator for the attention grid: its name, and a sequential scale for magnitudes. */
const estimatorOptions = (run: RunResult) => {
  const e = runEstimatorView(run);
  return { valueName: e.valueName, sequential: e.sequential };
};

export const RESIDUAL_FAMILIES = familiesIn('residual');
export const HEAD_FAMILIES = familiesIn('heads');
/** head_out, q, k, v by position: one panel per layer each, behind the per-position toggle. */
export const HEAD_POS_FAMILIES = familiesIn('heads_by_pos');
export const SCATTER_FAMILIES: Family[] = [...RESIDUAL_FAMILIES, ...HEAD_FAMILIES, ...familiesIn('heads_by_pos'), ...familiesIn('attention')];

/** What "Patch every cell" covers in the current view. */
export function viewSweepTargets(run: RunResult, tab: string, perPosition: boolean, head: { layer: number; head: number } | null): SweepTarget[] {
  if (tab === 'residual') return RESIDUAL_FAMILIES.map((family) => ({ family }));
  if (tab === 'heads') return [...HEAD_FAMILIES, ...(perPosition ? HEAD_POS_FAMILIES : [])].map((family) => ({ family }));
  if (tab === 'attention' && head) {
    const n = run.tokens.length;
    const entries: number[][] = [];
    for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) entries.push([head.layer, head.head, q, k]);
    const rows: number[][] = [];
    for (let h = 0; h < run.attribution.pattern_dest!.shape[1]; h++) for (let q = 0; q < n; q++) rows.push([head.layer, h, q]);
    return [{ family: 'pattern_by_pos', indices: entries }, { family: 'pattern_dest', indices: rows }];
  }
  return [];
}

/** Per-panel colour domains for the panels of a view under its sharing choice, in the values it shows. */
function usePanelScales(run: RunResult, scale: Scale, tab: string, panels: { family: Family; layer?: number }[]) {
  const values = useCellValues(tab);
  const sharing = useScaleSharing(tab);
  // Exact patches arrive into the same run: its version says when.
  const version = useStore((s) => s.run.version);
  const key = panels.map((p) => `${p.family}:${p.layer ?? ''}`).join(',');
  return useMemo(() => {
    const cache = new Map<Family, Float64Array | Float32Array>();
    const valuesOf = (f: Family) => {
      if (!cache.has(f)) cache.set(f, shownValues(run, f, scale.k, values)?.data.data ?? new Float64Array(0));
      return cache.get(f)!;
    };
    const panelValues = panels.map((p) => {
      const all = valuesOf(p.family);
      if (p.layer === undefined) return { group: p.family, values: all };
      const per = all.length / run.attribution[p.family]!.shape[0];
      return { group: p.family, values: all.subarray(p.layer * per, (p.layer + 1) * per) };
    });
    const computed = new Set(panels.map((p) => p.family));
    let nComputed = 0;
    for (const f of computed) nComputed += computedCount(run.patched[f]);
    return { values, maxAbs: panelMaxAbs(panelValues, sharing), computed: nComputed };
  }, [run, version, scale.k, values, sharing, key]);
}

export function ResidualView({ run, scale }: { run: RunResult; scale: Scale }) {
  const panels = RESIDUAL_FAMILIES.filter((f) => run.attribution[f]).map((family) => ({ family }));
  const { values, maxAbs, computed } = usePanelScales(run, scale, 'residual', panels);
  return (
    <div data-testid="view.residual">
      <ViewControls tab="residual" computed={computed} />
      <div className="pw-grid">
        {panels.map(({ family: f }, i) => (
          <FamilyHeatmap key={f} run={run} family={f} scale={scale} subtitle="layer × position" values={values} maxAbs={maxAbs[i]} />
        ))}
      </div>
    </div>
  );
}

export function HeadsView({ run, scale }: { run: RunResult; scale: Scale }) {
  const perPosition = useStore((s) => s.view.perPosition);
  const headOut = run.attribution.head_out;
  const main = HEAD_FAMILIES.filter((f) => run.attribution[f]).map((family) => ({ family }));
  // head_out, q, k and v by position (issue 14): one head x position panel per family and layer.
  const posFamilies = perPosition && headOut ? HEAD_POS_FAMILIES.filter((f) => run.attribution[f]) : [];
  const layers = posFamilies.flatMap((family) => Array.from({ length: run.attribution[family]!.shape[0] }, (_, layer) => ({ family, layer })));
  const { values, maxAbs, computed } = usePanelScales(run, scale, 'heads', [...main, ...layers]);
  return (
    <div data-testid="view.heads">
      <ViewControls tab="heads" computed={computed} />
      <div className="pw-grid">
        {main.map(({ family: f }, i) => (
          <FamilyHeatmap key={f} run={run} family={f} scale={scale} subtitle="layer × head" values={values} maxAbs={maxAbs[i]} />
        ))}
      </div>
      <label className="pw-toggle">
        <input
          type="checkbox"
          checked={perPosition}
          onChange={(e) => setPerPosition(e.target.checked)}
          data-testid="view.perPosition"
        />
        Heads per position: output (hook_z), queries, keys and values at each position (one panel per layer)
      </label>
      {layers.length ? (
        <div data-testid="view.heads.perPosition">
          {posFamilies.map((family) => {
            const what = family === 'head_out' ? 'head output' : familyTitle(family).toLowerCase();
            const own = layers.map((p, i) => ({ ...p, i })).filter((p) => p.family === family);
            const shared = own.length > 1 && new Set(own.map((p) => maxAbs[main.length + p.i])).size === 1;
            return (
              <div className="pw-grid" key={family} data-testid={`view.heads.perPosition.${family}`}>
                {own.map(({ layer, i }) => (
                  <FamilyHeatmap
                    key={layer}
                    run={run}
                    family={family}
                    scale={scale}
                    rowAxis="head"
                    colAxis="pos"
                    fixed={{ layer }}
                    title={`Layer ${layer} ${what}`}
                    subtitle="head × position"
                    maxAbs={maxAbs[main.length + i]}
                    values={values}
                    cell={16}
                    legend={!shared || layer === 0}
                    testid={`figure.${family}.L${layer}`}
                  />
                ))}
              </div>
            );
          })}
        </div>
      ) : null}
    </div>
  );
}

export function ScatterView({ run, scale }: { run: RunResult; scale: Scale }) {
  const selected = useStore((s) => s.selected);
  const sweeping = useStore((s) => s.sweep !== null);
  const computed = SCATTER_FAMILIES.map((f) => {
    const p = run.patched[f];
    let n = 0;
    if (p) for (const v of p.data) if (!Number.isNaN(v)) n++;
    return { family: f, n, total: run.attribution[f]?.data.length ?? 0 };
  });
  const shown = computed.filter((c) => c.n >= 1);
  const missing = computed.filter((c) => c.n < c.total && c.family !== 'pattern_by_pos' && c.family !== 'head_out');
  return (
    <div data-testid="view.scatter">
      <p className="pw-muted">
        Attribution (x) against the exact activation patch (y), one point per target. On the dashed y = x line the linear
        estimate is exact; points off it are where attribution patching misleads (big activations, saturated softmaxes).
      </p>
      <EstimatorComparison run={run} scale={scale} families={SCATTER_FAMILIES.filter((f) => run.attribution[f])} />
      {missing.length ? (
        <div className="pw-row pw-wrap">
          <span>Compute activation patches:</span>
          {missing.map((c) => (
            <button
              key={c.family}
              type="button"
              disabled={sweeping}
              onClick={() => void sweep([{ family: c.family }], familyTitle(c.family))}
              data-testid={`scatter.compute.${c.family}`}
            >
              {c.family} ({c.n}/{c.total})
            </button>
          ))}
        </div>
      ) : null}
      <div className="pw-grid">
        {shown.map(({ family }) => (
          <Figure
            key={family}
            title={familyTitle(family)}
            run={run}
            family={family}
            scale={scale}
            testid={`figure.scatter.${family}`}
            className="pw-figure-scatter"
            image={(format, lines) => plotlyImage(family, format, `patchwork-scatter-${family}`, lines)}
          >
            <ScatterOf run={run} family={family} scale={scale} selected={selected?.family === family ? selected.index : null} />
          </Figure>
        ))}
      </div>
      {!shown.length ? <p className="pw-empty">No activation patches yet: click cells in the other views, or compute a family above.</p> : null}
    </div>
  );
}

/** PNG / SVG of a plotly chart through plotly's own exporter (the chart is not one of our SVGs), with the title block. */
async function plotlyImage(family: Family, format: 'png' | 'svg', filename: string, lines: string[]): Promise<void> {
  const figure = document.querySelector<HTMLElement>(`[data-testid="figure.scatter.${family}"]`);
  const plot = figure?.querySelector<HTMLElement>('[data-testid="scatter.plot"] .js-plotly-plot') ?? figure?.querySelector<HTMLElement>('.js-plotly-plot');
  if (!plot) throw new Error('the plot is not drawn yet');
  const Plotly = (await import('plotly.js-dist-min')).default;
  const gd = plot as unknown as { data: unknown[]; layout: Partial<Layout> };
  const out = exportLayout(gd.layout, lines, plot.clientWidth, plot.clientHeight);
  const url = await Plotly.toImage({ data: gd.data, layout: out.layout } as never, { format, width: out.width, height: out.height, scale: format === 'png' ? 2 : 1 } as never);
  downloadBlob(await (await fetch(url)).blob(), safeFilename(filename, format));
}

function ScatterOf({ run, family, scale, selected }: { run: RunResult; family: Family; scale: Scale; selected: number[] | null }) {
  const x = useMemo(() => scaled(run.attribution[family]!, scale.k), [run.attribution, family, scale.k]);
  const py = run.patched[family]!;
  const y = useMemo(() => scaled(py, scale.k), [py, scale.k]);
  return (
    <Scatter
      x={x}
      y={y}
      options={{ family, tokens: run.tokens, unit: scale.unit, height: 320, filename: `patchwork-scatter-${family}`, xName: runEstimatorView(run).valueName }}
      selected={selected}
      onSelect={(index) => void selectCell(family, index)}
    />
  );
}

export function AttentionView({ run, scale }: { run: RunResult; scale: Scale }) {
  const mode = useStore((s) => s.view.attentionMode);
  const head = useStore((s) => s.view.head ?? null);
  const selected = useStore((s) => (s.selected?.family === 'pattern_by_pos' ? s.selected.index : null));
  const svg = useSvgRef();
  useEffect(() => {
    if (mode === 'clean') void computeCleanAttention();
  }, [mode, run]);
  const raw = mode === 'clean' ? run.cleanAttention : run.attribution.pattern_by_pos;
  // Clean-only attention attribution is sum(pattern * grad) on one prompt: not a change between two runs, so
  // the clean - corrupted normaliser does not apply; it stays in the metric's units.
  const k = mode === 'clean' ? 1 : scale.k;
  const data = useMemo(() => (raw ? scaled(raw, k) : undefined), [raw, k]);
  const p = run.patched.pattern_by_pos;
  const patched = useMemo(() => (p && mode === 'pair' ? scaled(p, k) : undefined), [p, k, mode]);
  const semRaw = run.sem?.pattern_by_pos;
  const sem = useMemo(() => (semRaw && mode === 'pair' ? scaled(semRaw, Math.abs(k)) : undefined), [semRaw, k, mode]);
  const ranked = useMemo(() => (data ? rankHeads(data) : []), [data]);
  // A metric on an internal activation (issue 13): the entries at or after its hook, and its own entry.
  const upstream = useMemo(() => {
    const blocked = notUpstreamOf(run.spec.metric);
    return { notUpstream: blocked ? (index: readonly number[]) => blocked('pattern_by_pos', index) : undefined, metricCell: metricCell(run.spec.metric, 'pattern_by_pos') };
  }, [run.spec.metric]);
  // A head this result does not have (a link for a bigger model) is never drawn; run() also drops it with a notice.
  const shown = head && hasHead(run, head) ? head : ranked[0] ? { layer: ranked[0].layer, head: ranked[0].head } : null;
  const unit = mode === 'clean' ? `${scale.unit === 'normalised' ? 'metric' : scale.unit}, clean only` : scale.unit;

  return (
    <div data-testid="view.attention">
      <div className="pw-segmented" role="radiogroup" aria-label="Attention attribution mode">
        <label>
          <input type="radio" checked={mode === 'pair'} onChange={() => setAttentionMode('pair')} data-testid="attention.mode.pair" />
          Pattern attribution (clean vs corrupted): (clean − corrupted pattern) × grad
        </label>
        <label>
          <input type="radio" checked={mode === 'clean'} onChange={() => setAttentionMode('clean')} data-testid="attention.mode.clean" />
          Attention attribution, clean prompt only: pattern × grad (no corrupted prompt)
        </label>
      </div>
      {!data ? <p className="pw-empty">Computing attention attribution on the clean prompt…</p> : (
        <Figure
          title={mode === 'clean' ? 'Attention attribution (clean prompt only)' : 'Attention pattern attribution'}
          subtitle={shown ? `L${shown.layer}H${shown.head}, query × key` : undefined}
          run={run}
          family="pattern_by_pos"
          scale={{ ...scale, k, unit }}
          svg={svg.get}
          testid="figure.attention"
          data={() => ({ [mode === 'clean' ? 'attention_attribution' : 'attribution']: data, ...(patched ? { activation_patch: patched } : {}) })}
        >
          <AttentionGrid
            data={data}
            patched={patched}
            sem={sem}
            options={{ tokens: run.tokens, unit, ...(mode === 'pair' ? { ...estimatorOptions(run), ...upstream } : {}) }}
            head={shown}
            onSelectHead={selectHead}
            selected={mode === 'pair' ? selected : null}
            onSelect={mode === 'pair' ? (index) => void selectCell('pattern_by_pos', index) : undefined}
            svgRef={svg.ref}
          />
          {mode === 'clean' ? (
            <p className="pw-muted">
              Each entry is pattern × ∂metric/∂pattern on the clean run: how much the metric leans on that attention
              weight (the negated zero-ablation estimate). No activation patch exists for it, so cells do not patch.
            </p>
          ) : null}
        </Figure>
      )}
      {shown ? <RawPatternPanel run={run} head={shown} /> : null}
      {mode === 'pair' && shown && run.attribution.pattern_dest ? (
        <FamilyHeatmap
          run={run}
          family="pattern_dest"
          scale={scale}
          rowAxis="head"
          colAxis="query_pos"
          fixed={{ layer: shown.layer }}
          title={`Layer ${shown.layer} attention by destination`}
          subtitle="head × destination (query) position: each cell patches the whole row of that head's pattern"
          testid="figure.pattern_dest"
        />
      ) : null}
    </div>
  );
}
