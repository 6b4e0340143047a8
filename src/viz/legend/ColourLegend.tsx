// A colour bar for the symmetric diverging scale, drawn as an SVG <g> so it lives inside the chart's own <svg>
// and comes along when the chart is exported.
import { useId } from 'react';
import { NOT_COMPUTED_COLOUR, NOT_UPSTREAM_COLOUR, legendModel, type DivergingScale } from '../colour';

export interface ColourLegendProps {
  scale: DivergingScale;
  x: number;
  y: number;
  width?: number;
  /** Caption after the bar, e.g. "attribution (logit diff)". */
  caption?: string;
  /** Add the grey "not computed" swatch and the computed-cell dot to the key. */
  showNotComputed?: boolean;
  showComputedDot?: boolean;
  /** The id of a <HatchPattern> in the same SVG: the "not computed" swatch is drawn with it, like the cells. */
  hatchId?: string;
  /** Add the "not upstream of the metric" swatch (issue 13: a metric on an internal activation). */
  showNotUpstream?: boolean;
}

export const LEGEND_HEIGHT = 42;
/** Width the "not computed" key takes after the bar. */
export const NOT_COMPUTED_WIDTH = 84;
/** Width the "not upstream" key takes. */
export const NOT_UPSTREAM_WIDTH = 150;

/** Diagonal grey hatching for cells with no value (not computed), distinct from any colour of the scales. */
export function HatchPattern({ id }: { id: string }) {
  return (
    <pattern id={id} patternUnits="userSpaceOnUse" width={6} height={6} patternTransform="rotate(45)">
      <rect width={6} height={6} fill="#f4f4f5" />
      <line x1={0} y1={0} x2={0} y2={6} stroke="#9a9aa0" strokeWidth={2} />
    </pattern>
  );
}

/** Ids from useId() contain characters that break url(#...) references in some serialisers. */
export function svgSafeId(id: string): string {
  return 'pw' + id.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function ColourLegend({ scale, x, y, width = 180, caption, showNotComputed, showComputedDot, hatchId, showNotUpstream }: ColourLegendProps) {
  const gid = svgSafeId(useId());
  const { stops, ticks } = legendModel(scale, { width });
  const barH = 10;
  const naX = width + 16;
  const upX = naX + (showNotComputed ? NOT_COMPUTED_WIDTH : 0);
  const dotX = upX + (showNotUpstream ? NOT_UPSTREAM_WIDTH : 0);
  return (
    <g className="pw-legend" transform={`translate(${x},${y})`} fontSize={10} fill="currentColor">
      <defs>
        <linearGradient id={gid} x1="0" x2="1" y1="0" y2="0">
          {stops.map((s) => <stop key={s.offset} offset={s.offset} stopColor={s.colour} />)}
        </linearGradient>
      </defs>
      {caption ? <text x={0} y={-4}>{caption}</text> : null}
      <rect x={0} y={0} width={width} height={barH} fill={`url(#${gid})`} stroke="#999" strokeWidth={0.5} />
      {ticks.map((t) => (
        <g key={t.position} transform={`translate(${t.position * width},0)`}>
          <line y1={barH} y2={barH + 3} stroke="currentColor" strokeWidth={0.75} />
          <text y={barH + 13} textAnchor={t.anchor}>{t.label}</text>
        </g>
      ))}
      {showNotComputed ? (
        <g transform={`translate(${naX},0)`}>
          <rect width={barH} height={barH} fill={hatchId ? `url(#${hatchId})` : NOT_COMPUTED_COLOUR} stroke="#999" strokeWidth={0.5} />
          <text x={barH + 4} y={barH - 1}>not computed</text>
        </g>
      ) : null}
      {showNotUpstream ? (
        <g transform={`translate(${upX},0)`} data-testid="legend.notUpstream">
          <rect width={barH} height={barH} fill={NOT_UPSTREAM_COLOUR} stroke="#999" strokeWidth={0.5} />
          <text x={barH + 4} y={barH - 1}>not upstream of the metric</text>
        </g>
      ) : null}
      {showComputedDot ? (
        <g transform={`translate(${dotX},0)`}>
          <rect width={barH} height={barH} fill={scale(0)} stroke="#999" strokeWidth={0.5} />
          <circle cx={barH / 2} cy={barH / 2} r={2} fill="#000" />
          <text x={barH + 4} y={barH - 1}>activation patch computed</text>
        </g>
      ) : null}
    </g>
  );
}
