// Pure model behind <Scatter>: which points, their names, the agreement statistics and the plotly figure.
import type { Config, Data, Layout } from 'plotly.js';
import type { Family, Labelled } from '../../engine/patching/types';
import { formatValue } from '../format';
import { sameLayout, unravel } from '../labelled';
import { describeTarget } from '../target';
import { agreement, pairedFinite, type AgreementStats } from './stats';

export interface ScatterOptions {
  family?: Family;
  tokens?: readonly string[];
  /** k of the top-k overlap. */
  k: number;
  /** Unit of the numbers as passed (the caller normalises), e.g. "logit diff" or "normalised". */
  unit?: string;
  xName: string;
  yName: string;
  height: number;
  /** File name stem for plotly's own "download plot" button. */
  filename: string;
}

export const defaults: ScatterOptions = {
  k: 10,
  xName: 'attribution',
  yName: 'activation patch',
  height: 440,
  filename: 'patchwork-scatter',
};

export interface ScatterPoint {
  flat: number;
  index: number[];
  x: number;
  y: number;
  name: string;
}

export interface ScatterModel {
  points: ScatterPoint[];
  stats: AgreementStats;
  /** false when n < 2 or a series is constant: the statistics are NaN and the UI says so. */
  enough: boolean;
  title: string;
  data: Data[];
  layout: Partial<Layout>;
  config: Partial<Config>;
}

/**
 * Plotly renders a pseudo-HTML subset (<b>, <br>, <a href>) in text and hover labels and decodes entities, so user
 * strings (token texts, units) are entity-escaped before they reach it: a token "<b>" shows as "<b>".
 */
export function plotlyEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function statsTitle(s: AgreementStats, enough: boolean): string {
  if (!enough) {
    return s.n < 2
      ? `not enough points (n = ${s.n}): compute activation patches to compare`
      : `not enough points: a series is constant (n = ${s.n})`;
  }
  return `Pearson r = ${s.pearson.toFixed(3)} · Spearman ρ = ${s.spearman.toFixed(3)} · `
    + `top-${s.k} overlap = ${formatValue(s.topK)} · n = ${s.n}`;
}

/** The statistics title split after the second statistic ("Pearson … · Spearman …" / "top-k … · n = …"). */
export function titleLines(title: string): string[] {
  const parts = title.split(' · ');
  return parts.length > 2 ? [parts.slice(0, 2).join(' · '), parts.slice(2).join(' · ')] : [title];
}

export function scatterModel(
  x: Labelled, y: Labelled, options: Partial<ScatterOptions> = {}, selected?: readonly number[] | null,
): ScatterModel {
  const o = { ...defaults, ...options };
  if (!sameLayout(x, y)) throw new Error(`scatter: layouts differ, [${x.axes}] ${x.shape} vs [${y.axes}] ${y.shape}`);
  const paired = pairedFinite(x.data, y.data);
  const points = paired.index.map((flat, i) => {
    const index = unravel(x.shape, flat);
    return { flat, index, x: paired.x[i], y: paired.y[i], name: describeTarget(x.axes, index, o) };
  });
  const stats = agreement(paired.x, paired.y, o.k);
  const enough = Number.isFinite(stats.pearson) && Number.isFinite(stats.spearman);
  const title = statsTitle(stats, enough);

  const unit = o.unit ? ` (${plotlyEscape(o.unit)})` : '';
  // One range for both axes so the y = x diagonal sits at 45 degrees. A loop, not Math.min(...xs): mlp_post has
  // ~500k targets, past the engine's argument limit.
  let lo = 0;
  let hi = 0;
  for (const v of paired.x.concat(paired.y)) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const pad = (hi - lo) * 0.05 || 1;
  lo -= pad;
  hi += pad;

  const sel = selected ? points.find((p) => p.index.every((v, i) => v === selected[i])) : undefined;
  const data: Data[] = [
    {
      type: 'scatter',
      mode: 'markers',
      name: 'targets',
      x: points.map((p) => p.x),
      y: points.map((p) => p.y),
      text: points.map((p) => plotlyEscape(p.name)),
      customdata: points.map((p) => p.flat),
      hovertemplate: `%{text}<br>${plotlyEscape(o.xName)} %{x:.4g}<br>${plotlyEscape(o.yName)} %{y:.4g}<extra></extra>`,
      marker: { color: '#2166ac', size: 7, opacity: 0.8, line: { color: '#fff', width: 0.5 } },
    },
  ];
  if (sel) {
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'selected',
      x: [sel.x],
      y: [sel.y],
      hoverinfo: 'skip',
      marker: { symbol: 'circle-open', size: 15, color: '#111', line: { width: 2 } },
    });
  }
  const layout: Partial<Layout> = {
    // Two lines: on one, the statistics ran past a 410 px plot and were clipped on screen and in the PNG (issue 14).
    // Plotly centres the title in the top margin: 72 px holds two 12 px lines (a 'top' anchor pushed line 1 out).
    title: { text: titleLines(title).map(plotlyEscape).join('<br>'), font: { size: 12 } },
    height: o.height,
    margin: { l: 64, r: 16, t: 72, b: 56 },
    showlegend: false,
    hovermode: 'closest',
    xaxis: { title: { text: `${plotlyEscape(o.xName)}${unit}` }, range: [lo, hi], zeroline: true, zerolinecolor: '#ccc' },
    yaxis: { title: { text: `${plotlyEscape(o.yName)}${unit}` }, range: [lo, hi], zeroline: true, zerolinecolor: '#ccc' },
    shapes: [{ type: 'line', x0: lo, y0: lo, x1: hi, y1: hi, line: { color: '#888', width: 1, dash: 'dash' } }],
    annotations: [{ x: hi, y: hi, text: 'y = x', showarrow: false, xanchor: 'right', yanchor: 'bottom', font: { color: '#888', size: 10 } }],
    font: { family: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', size: 11 },
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
  };
  const config: Partial<Config> = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ['select2d', 'lasso2d'],
    toImageButtonOptions: { format: 'svg', filename: o.filename },
  };
  return { points, stats, enough, title, data, layout, config };
}

/** Line height (px) and rough advance width of an 11 px title-block line in a plotly export. */
const EXPORT_LINE_PX = 16;
const EXPORT_CHAR_PX = 6.6;

/**
 * The layout and size of an exported scatter (PNG/SVG through plotly): the figure's title block (model, prompts,
 * metric, estimator; issue 14) above the statistics title, the top margin grown to hold it and the image widened so
 * no line is clipped. User text is escaped as everywhere else in plotly text.
 */
export function exportLayout(layout: Partial<Layout>, lines: readonly string[], width: number, height: number): { layout: Partial<Layout>; width: number; height: number } {
  const stats = typeof layout.title === 'object' && layout.title?.text ? layout.title.text : typeof layout.title === 'string' ? layout.title : '';
  const block = lines.map((l, i) => (i === 0 ? `<b>${plotlyEscape(l)}</b>` : plotlyEscape(l)));
  const extra = EXPORT_LINE_PX * lines.length;
  const top = (layout.margin?.t ?? 0) + extra;
  const longest = Math.max(0, ...lines.map((l) => Array.from(l).length));
  return {
    layout: {
      ...layout,
      title: { text: [...block, ...(stats ? [stats] : [])].join('<br>'), font: { size: 11 }, x: 0.02, xanchor: 'left' },
      margin: { ...layout.margin, t: top },
      height: height + extra,
      width: Math.max(width, Math.ceil(longest * EXPORT_CHAR_PX) + 32),
    },
    width: Math.max(width, Math.ceil(longest * EXPORT_CHAR_PX) + 32),
    height: height + extra,
  };
}
