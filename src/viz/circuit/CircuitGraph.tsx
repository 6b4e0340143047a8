// The circuit graph (issue 11): nodes by layer (input at the bottom, logits at the top, a layer's heads and MLP in a
// row), the top-N edges by |attribution| with width by magnitude and the signed RdBu colours, q/k/v told apart by
// dash (and in the legend). Edges and nodes are buttons in the tab order with accessible names; hover names an edge
// and its value; a selected node's edges stand out and the others fade; nodes without a shown edge are drawn small.
import { useMemo, useState, type KeyboardEvent, type Ref } from 'react';
import { divergingScale, NOT_UPSTREAM_COLOUR } from '../colour';
import { formatValue } from '../format';
import {
  CHANNEL_DASH, edgeLabel, edgePath, layoutNodes, layoutSize, widthScale, type CircuitData, type GraphEdge,
} from './circuit-model';
import '../viz.css';

export interface CircuitGraphOptions {
  width: number;
  rowHeight: number;
  margin: number;
  /** Edges drawn: the top N by |value|. */
  n: number;
  minWidth: number;
  maxWidth: number;
  /** Node radius with / without a shown edge. */
  radius: number;
  smallRadius: number;
  /** A title line drawn in the SVG (kept in exports): model, prompts, metric. */
  title?: string;
  unit?: string;
  /** Issue 13: the metric's hook for a node that is not upstream of it (drawn grey, named so), else null. */
  notUpstream?: (node: string) => string | null;
  /** The node the metric reads (a head for attn, prefix and dla), outlined. */
  metricNode?: string | null;
}

export const defaults: CircuitGraphOptions = {
  width: 720,
  rowHeight: 90,
  margin: 28,
  n: 20,
  minWidth: 1,
  maxWidth: 8,
  radius: 9,
  smallRadius: 3,
};

export interface CircuitGraphProps {
  data: CircuitData;
  /** Every edge ranked by |value| (rankedEdges(data)); passed in so the caller ranks once. */
  ranked: readonly GraphEdge[];
  options?: Partial<CircuitGraphOptions>;
  selectedEdge?: string | null;
  selectedNode?: string | null;
  onSelectEdge?: (e: GraphEdge) => void;
  onSelectNode?: (node: string | null) => void;
  svgRef?: Ref<SVGSVGElement>;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

function activate(f: () => void) {
  return (ev: KeyboardEvent) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      f();
    }
  };
}

/** The title in lines of at most ~100 characters (split at " · "), the last cut with an ellipsis. */
export function splitTitle(title: string, max = 100): string[] {
  const parts = title.split(' · ');
  const lines: string[] = [];
  for (const p of parts) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 3 + p.length <= max) lines[lines.length - 1] = `${last} · ${p}`;
    else lines.push(p);
  }
  return lines.slice(0, 3).map((l) => (l.length > max ? `${l.slice(0, max - 1)}…` : l));
}

export function CircuitGraph({ data, ranked, options, selectedEdge, selectedNode, onSelectEdge, onSelectNode, svgRef }: CircuitGraphProps) {
  const o = { ...defaults, ...options };
  const { nLayers, nHeads } = layoutSize(data);
  const titleLines = o.title ? splitTitle(o.title) : [];
  const titleHeight = titleLines.length * 16 + (titleLines.length ? 6 : 0);
  const { nodes, height } = useMemo(
    () => layoutNodes(nLayers, nHeads, { width: o.width, rowHeight: o.rowHeight, margin: o.margin }),
    [nLayers, nHeads, o.width, o.rowHeight, o.margin],
  );
  const shown = useMemo(() => ranked.slice(0, o.n), [ranked, o.n]);
  const width = useMemo(() => widthScale(shown, o.minWidth, o.maxWidth), [shown, o.minWidth, o.maxWidth]);
  const colour = useMemo(() => divergingScale(shown.reduce((m, e) => Math.max(m, Math.abs(e.value)), 0)), [shown]);
  const touched = useMemo(() => new Set(shown.flatMap((e) => [e.from, e.to])), [shown]);
  const [hover, setHover] = useState<GraphEdge | null>(null);
  const legendY = height + titleHeight + 6;
  // Values in the caller's unit (raw metric or normalised), named in every label.
  const fmt = (v: number) => `${formatValue(v)}${o.unit ? ` ${o.unit}` : ''}`;
  // Draw the selected node's edges last (on top); the hovered edge too.
  const order = [...shown].sort((a, b) => Number(isOn(a)) - Number(isOn(b)));
  function isOn(e: GraphEdge): boolean {
    return e.name === selectedEdge || (!!selectedNode && (e.from === selectedNode || e.to === selectedNode));
  }
  const faded = (e: GraphEdge) => !!selectedNode && e.from !== selectedNode && e.to !== selectedNode;

  return (
    <div className="pw-circuit" data-testid="circuit.graph">
      <svg
        ref={svgRef}
        width={o.width}
        height={height + titleHeight + 52 + (o.notUpstream ? 16 : 0)}
        viewBox={`0 0 ${o.width} ${height + titleHeight + 52 + (o.notUpstream ? 16 : 0)}`}
        role="group"
        aria-label={`Circuit graph: top ${shown.length} edges by |attribution|`}
        fontFamily={FONT}
        style={{ background: 'white' }}
      >
        {o.title ? <title>{o.title}</title> : null}
        {titleLines.map((t, i) => <text key={i} x={o.margin} y={14 + i * 16} fontSize={i ? 11 : 13} fontWeight={i ? 400 : 600}>{t}</text>)}
        <g transform={`translate(0, ${titleHeight})`}>
          {Array.from({ length: nLayers }, (_, l) => (
            <text key={l} x={4} y={nodes.get(`a${l}.h0`)!.y + 4} fontSize={10} fill="#666">L{l}</text>
          ))}
          <g data-testid="circuit.edges">
            {order.map((e) => {
              const from = nodes.get(e.from)!;
              const to = nodes.get(e.to)!;
              const label = edgeLabel(e, fmt);
              return (
                <path
                  key={e.name}
                  d={edgePath(from, to, e.channel)}
                  fill="none"
                  stroke={colour(e.value)}
                  strokeWidth={width(e.value) + (e.name === selectedEdge ? 2 : 0)}
                  strokeDasharray={e.channel ? CHANNEL_DASH[e.channel] : undefined}
                  strokeOpacity={faded(e) ? 0.12 : 0.9}
                  className={`pw-circuit-edge${e.name === selectedEdge ? ' pw-selected' : ''}`}
                  role="button"
                  tabIndex={0}
                  aria-label={label}
                  aria-pressed={e.name === selectedEdge}
                  data-testid="circuit.edge"
                  data-edge={e.name}
                  onClick={() => onSelectEdge?.(e)}
                  onKeyDown={activate(() => onSelectEdge?.(e))}
                  onMouseEnter={() => setHover(e)}
                  onMouseLeave={() => setHover(null)}
                  onFocus={() => setHover(e)}
                  onBlur={() => setHover(null)}
                >
                  <title>{label}</title>
                </path>
              );
            })}
          </g>
          <g data-testid="circuit.nodes">
            {[...nodes.values()].map((n) => {
              const on = touched.has(n.id);
              const r = on ? o.radius : o.smallRadius;
              const sel = n.id === selectedNode;
              const blocked = o.notUpstream?.(n.id) ?? null;
              const mark = n.id === o.metricNode;
              const label = `node ${n.id}${blocked !== null ? `: not upstream of the metric (${blocked})` : on ? '' : ' (no edge shown)'}${mark ? ' (the metric is read here)' : ''}`;
              const shape = n.kind === 'mlp' || n.kind === 'input' || n.kind === 'logits'
                ? <rect x={n.x - r * 1.2} y={n.y - r} width={r * 2.4} height={r * 2} rx={2} />
                : <circle cx={n.x} cy={n.y} r={r} />;
              return (
                <g
                  key={n.id}
                  role="button"
                  tabIndex={on ? 0 : -1}
                  aria-label={label}
                  aria-pressed={sel}
                  data-testid="circuit.node"
                  data-node={n.id}
                  data-not-upstream={blocked !== null ? 'true' : undefined}
                  data-metric-node={mark ? 'true' : undefined}
                  className={`pw-circuit-node${sel ? ' pw-selected' : ''}`}
                  fill={sel ? '#222' : blocked !== null ? NOT_UPSTREAM_COLOUR : on ? '#f7f7f7' : '#ccc'}
                  stroke={sel ? '#000' : mark ? '#d97706' : '#555'}
                  strokeWidth={sel || mark ? 2 : 1}
                  strokeDasharray={mark && !sel ? '3 2' : undefined}
                  onClick={() => onSelectNode?.(sel ? null : n.id)}
                  onKeyDown={activate(() => onSelectNode?.(sel ? null : n.id))}
                >
                  <title>{label}</title>
                  {shape}
                  {on && (n.kind !== 'head' || nHeads <= 12) ? (
                    <text x={n.x} y={n.y - r - 3} fontSize={n.kind === 'head' ? 9 : 10} textAnchor="middle" fill="#333" stroke="none">
                      {n.kind === 'head' ? `h${n.head}` : n.id}
                    </text>
                  ) : null}
                </g>
              );
            })}
          </g>
          <g transform={`translate(${o.margin}, ${legendY - titleHeight})`} fontSize={11} data-testid="circuit.legend">
            {(['q', 'k', 'v'] as const).map((c, i) => (
              <g key={c} transform={`translate(${i * 110}, 0)`}>
                <line x1={0} x2={30} y1={8} y2={8} stroke="#333" strokeWidth={2} strokeDasharray={CHANNEL_DASH[c]} />
                <text x={36} y={12}>{c === 'v' ? 'value (or MLP/logits)' : c === 'q' ? 'query' : 'key'}</text>
              </g>
            ))}
            <text x={0} y={30} fill="#555">blue = raises the metric, red = lowers it; width = |attribution|; small grey nodes have no edge shown</text>
            {o.notUpstream ? (
              <text x={0} y={46} fill="#555" data-testid="circuit.legend.notUpstream">
                dark grey nodes are not upstream of the metric (they cannot change it; their edges are left out){o.metricNode ? '; dashed orange: the metric is read here' : ''}
              </text>
            ) : null}
          </g>
        </g>
      </svg>
      <p className="pw-circuit-hover" aria-live="polite" data-testid="circuit.hover">
        {hover ? `${hover.name}: attribution ${fmt(hover.value)}` : 'Hover or focus an edge to see its value; click it for the exact path patch.'}
      </p>
    </div>
  );
}
