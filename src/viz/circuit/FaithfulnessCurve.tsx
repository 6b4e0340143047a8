// Faithfulness against circuit size (issue 11): the top-N-edge circuit and the nodes-only circuit, x on a log(1 + N)
// scale, the current N marked. Each point is a listed, named element, so tests and screen readers can read it.
import { scaleLinear, scaleLog } from 'd3';
import { formatValue } from '../format';
import '../viz.css';

export interface CurvePointData {
  n: number;
  metric: number;
  faithfulness: number;
}

export interface FaithfulnessCurveOptions {
  width: number;
  height: number;
  margin: number;
  /** The edge count drawn in the graph now: marked by a vertical line. */
  currentN?: number;
  /**
   * Plot the circuit's metric in its own unit, with lines at the clean and corrupted metrics, instead of the
   * faithfulness (0 = corrupted, 1 = clean): the app's raw (not normalised) unit choice.
   */
  raw?: { clean: number; corrupted: number; unit: string };
}

export const defaults: FaithfulnessCurveOptions = { width: 520, height: 240, margin: 40 };

export interface FaithfulnessCurveProps {
  edges: readonly CurvePointData[];
  nodes?: readonly CurvePointData[];
  options?: Partial<FaithfulnessCurveOptions>;
}

export function FaithfulnessCurve({ edges, nodes = [], options }: FaithfulnessCurveProps) {
  const o = { ...defaults, ...options };
  const maxN = Math.max(1, ...edges.map((p) => p.n), ...nodes.map((p) => p.n));
  const x = scaleLog().domain([1, maxN + 1]).range([o.margin, o.width - 12]);
  const value = (p: CurvePointData) => (o.raw ? p.metric : p.faithfulness);
  const [lo, hi] = o.raw ? [o.raw.corrupted, o.raw.clean] : [0, 1];
  const ys = [...edges, ...nodes].map(value).filter(Number.isFinite);
  const y = scaleLinear().domain([Math.min(lo, hi, ...ys), Math.max(lo, hi, ...ys)]).range([o.height - o.margin, 12]).nice();
  const line = (pts: readonly CurvePointData[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.n + 1).toFixed(1)},${y(value(p)).toFixed(1)}`).join(' ');
  const series = [
    { id: 'edges', label: 'top-N edges', pts: edges, colour: '#2166ac', unit: 'edges' },
    { id: 'nodes', label: 'top-N nodes (heads, MLPs)', pts: nodes, colour: '#b2182b', unit: 'nodes' },
  ];
  return (
    <svg
      width={o.width}
      height={o.height + 20}
      role="group"
      aria-label={`Faithfulness curve, y: ${o.raw ? `metric (${o.raw.unit})` : 'faithfulness (normalised)'}`}
      data-testid="circuit.curve.plot"
      data-y={o.raw ? 'metric' : 'faithfulness'}
      fontSize={10}
    >
      <line x1={o.margin} x2={o.width - 12} y1={y(lo)} y2={y(lo)} stroke="#bbb" />
      <line x1={o.margin} x2={o.width - 12} y1={y(hi)} y2={y(hi)} stroke="#bbb" strokeDasharray="3 3" />
      <text x={4} y={y(hi) + 3}>{o.raw ? `clean ${formatValue(hi)}` : '1'}</text>
      <text x={4} y={y(lo) + 3}>{o.raw ? `corr. ${formatValue(lo)}` : '0'}</text>
      <text x={4} y={10}>{o.raw ? o.raw.unit : 'faithfulness'}</text>
      <text x={o.width / 2} y={o.height - 8} textAnchor="middle">N (log scale, 1 + N)</text>
      {o.currentN !== undefined ? (
        <g data-testid="circuit.curve.current">
          <line x1={x(o.currentN + 1)} x2={x(o.currentN + 1)} y1={12} y2={o.height - o.margin} stroke="#333" strokeDasharray="2 2" />
          <text x={x(o.currentN + 1) + 3} y={20}>N = {o.currentN}</text>
        </g>
      ) : null}
      {series.map((s) => (
        <g key={s.id} data-testid={`circuit.curve.${s.id}`}>
          <path d={line(s.pts)} fill="none" stroke={s.colour} strokeWidth={1.5} />
          {s.pts.map((p) => (
            <circle
              key={p.n}
              cx={x(p.n + 1)}
              cy={y(value(p))}
              r={3}
              fill={s.colour}
              role="img"
              aria-label={`${s.label}: N = ${p.n}, metric ${formatValue(p.metric)}, faithfulness ${formatValue(p.faithfulness)}`}
              data-n={p.n}
              data-metric={p.metric}
            >
              <title>{`${s.label}: N = ${p.n} ${s.unit}, metric ${formatValue(p.metric)}, faithfulness ${formatValue(p.faithfulness)}`}</title>
            </circle>
          ))}
        </g>
      ))}
      {series.filter((s) => s.pts.length).map((s, i) => (
        <g key={s.id} transform={`translate(${o.margin + 10 + i * 170}, ${o.height + 8})`}>
          <line x1={0} x2={18} y1={0} y2={0} stroke={s.colour} strokeWidth={2} />
          <text x={22} y={3}>{s.label}</text>
        </g>
      ))}
    </svg>
  );
}
