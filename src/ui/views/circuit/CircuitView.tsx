// The Circuit tab (issue 11): the circuit graph of the top-N edges by edge attribution, exact path patches of an
// edge on click (estimate, exact, difference), a node's incoming and outgoing edges, and the faithfulness curves.
import { useEffect, useMemo } from 'react';
import {
  cancelCurves, computeEdges, currentCircuit, patchEdge, runCurves, selectNode, setCircuitN, type CurveRequest,
} from '../../../state/actions';
import { useCircuit } from '../../../state/circuit';
import { syncFragment } from '../../../state/link';
import { modelLabel } from '../../../state/models';
import type { RunResult } from '../../../state/results';
import { CircuitGraph } from '../../../viz/circuit/CircuitGraph';
import {
  curveSteps, edgeNodeHook, incident, nodeCircuit, rankedEdges, rankedNodes, withoutNotUpstream, type CircuitData, type GraphEdge,
} from '../../../viz/circuit/circuit-model';
import { notUpstream } from '../../../engine/patching/metric-spec';
import { metricNode, safeMetricHook } from '../../../state/metric-site';
import { FaithfulnessCurve } from '../../../viz/circuit/FaithfulnessCurve';
import { ExportButtons } from '../../../viz/export/ExportButtons';
import { formatValue } from '../../../viz/format';
import { useScale, useSvgRef, type Scale } from '../common';
import { HeadMatrices } from './HeadMatrices';
import './circuit.css';

/** Most edges the slider offers (GPT-2 Small has ~32k; past a few hundred the graph is a blur). */
const SLIDER_MAX = 500;

export function CircuitView({ run }: { run: RunResult }) {
  const st = useCircuit();
  // The app's unit choice (raw metric or normalised by clean - corrupted), as every other view.
  const scale = useScale(run);
  useEffect(() => {
    void computeEdges();
  }, [run.id]);
  // The address bar follows N and the selection, so it is always a working link to this view.
  useEffect(() => {
    syncFragment();
  }, [st.n, st.selectedEdge, st.selectedNode]);
  // Re-read the cache when the circuit store's version changes.
  const circuit = useMemo(() => (st.runId === run.id ? currentCircuit() : undefined), [run.id, st.runId, st.version, st.status]);
  // A metric on an internal activation (issue 13): edges into receivers at or after its hook cannot change it and are
  // left out (never ranked, drawn or patched); the nodes after it are drawn apart.
  const own = safeMetricHook(run.spec.metric);
  const masked = useMemo(() => {
    if (!circuit) return null;
    const raw: CircuitData = { ...circuit.scores, scores: scale.k === 1 ? circuit.scores.edges : circuit.scores.edges.map((v) => v * scale.k) };
    return own === null ? { data: raw, dropped: 0 } : withoutNotUpstream(raw, (hook) => notUpstream(run.spec.metric, hook));
  }, [circuit, scale.k, own, run.spec.metric]);
  const data = masked?.data ?? null;
  const receiverBlocked = useMemo(
    () => (own === null ? undefined : (receiver: string) => (notUpstream(run.spec.metric, edgeNodeHook(receiver, 'receiver')) ? own : null)),
    [own, run.spec.metric],
  );
  const nodeBlocked = useMemo(
    () => (own === null ? undefined : (node: string) => (notUpstream(run.spec.metric, edgeNodeHook(node, 'sender')) ? own : null)),
    [own, run.spec.metric],
  );
  // Exact path patches in the same unit; the cache keeps raw values (its size tells that one was added).
  const exact = useMemo(
    () => new Map([...(circuit?.exact ?? new Map<string, number>())].map(([k, v]) => [k, v * scale.k])),
    [circuit, circuit?.exact.size, st.version, scale.k],
  );
  const ranked = useMemo(() => (data ? rankedEdges(data) : []), [data]);
  const svg = useSvgRef();

  if (st.runId === run.id && st.status === 'error') return <p className="pw-error" role="alert" data-testid="circuit.error">{st.error}</p>;
  if (!data || !circuit) return <p className="pw-empty" data-testid="circuit.computing">Computing edge attribution…</p>;

  const total = ranked.length;
  const n = Math.min(st.n, total);
  const shown = ranked.slice(0, n);
  const unit = scale.unit;
  const title = `${modelLabel(run.model)} · "${run.spec.pairs[0].clean.trim()}" vs "${run.spec.pairs[0].corrupted.trim()}" · ${run.spec.metric.name}${run.spec.pairs.length > 1 ? ` (${run.spec.pairs.length} pairs)` : ''}`;
  const selEdge = st.selectedEdge ? ranked.find((e) => e.name === st.selectedEdge) ?? null : null;
  const onEdge = (e: GraphEdge) => void patchEdge(e.name, { sender: e.sender, receiver: e.receiver });

  const edgeRows = () => shown.map((e) => ({ edge: e.name, sender: e.from, receiver: e.to, channel: e.channel ?? '', attribution: e.value, exact: exact.get(e.name) ?? null }));
  const csv = () => ['edge,sender,receiver,channel,attribution,exact_path_patch', ...edgeRows().map((r) => `${r.edge},${r.sender},${r.receiver},${r.channel},${r.attribution},${r.exact ?? ''}`)].join('\n');
  const json = () => JSON.stringify({ title, metric: circuit.scores.metric, unit, normalised: scale.normalised, n, edges: edgeRows() }, null, 2);

  return (
    <div data-testid="view.circuit" className="pw-circuit-view">
      <div className="pw-row pw-wrap">
        <label>
          Edges shown{' '}
          <input
            type="range"
            min={1}
            max={Math.min(total, SLIDER_MAX)}
            value={n}
            onChange={(e) => setCircuitN(Number(e.target.value))}
            aria-label="Edges shown (top N by |attribution|)"
            data-testid="circuit.n"
          />
        </label>
        <output data-testid="circuit.count">{n} of {total} edges</output>
      </div>
      {own !== null && masked?.dropped ? (
        <p className="pw-muted" data-testid="circuit.notUpstream">
          {masked.dropped} edges end at or after the metric&apos;s own activation ({own}): they are not upstream of it, cannot
          change it, and are left out of the graph, the matrices and the curves.
        </p>
      ) : null}
      <div className="pw-circuit-main">
      <figure className="pw-figure" data-testid="figure.circuit">
        <figcaption>
          <strong>Circuit graph</strong> <span className="pw-muted">edge attribution (one backward pass), top {n} by |value|, {unit}</span>
          <ExportButtons filename={`patchwork-circuit${scale.normalised ? '-normalised' : ''}`} svg={svg.get} csv={csv} json={json} />
        </figcaption>
        <CircuitGraph
          data={data}
          ranked={ranked}
          options={{ n, title, unit, notUpstream: nodeBlocked, metricNode: metricNode(run.spec.metric) }}
          selectedEdge={st.selectedEdge}
          selectedNode={st.selectedNode}
          onSelectEdge={onEdge}
          onSelectNode={selectNode}
          svgRef={svg.ref}
        />
      </figure>
      <aside className="pw-circuit-details" data-testid="circuit.details" aria-live="polite" aria-label="Circuit details">
        {selEdge ? <EdgeDetails edge={selEdge} exact={exact.get(selEdge.name)} pending={st.pendingEdge === selEdge.name} unit={unit} /> : null}
        {st.edgeError ? <p className="pw-error" role="alert" data-testid="circuit.edge.error">{st.edgeError}</p> : null}
        {st.selectedNode ? <NodeEdges node={st.selectedNode} edges={shown} exact={exact} onEdge={onEdge} /> : null}
        {!selEdge && !st.selectedNode ? <p className="pw-muted">Click an edge for its exact path patch, or a node for its edges.</p> : null}
      </aside>
      </div>
      <HeadMatrices data={data} exact={exact} selectedEdge={st.selectedEdge} unit={unit} blocked={receiverBlocked} />
      <CurvePanel data={data} ranked={ranked} n={n} curve={circuit.curve} nodeCurve={circuit.nodeCurve} metric={circuit.scores.metric} scale={scale} />
    </div>
  );
}

function EdgeDetails({ edge, exact, pending, unit }: { edge: GraphEdge; exact: number | undefined; pending: boolean; unit: string }) {
  return (
    <dl className="pw-kv" data-testid="circuit.edge.details" data-unit={unit}>
      <dt>Edge</dt>
      <dd data-testid="circuit.edge.name">{edge.name}</dd>
      <dt>Estimate (edge attribution), {unit}</dt>
      <dd data-testid="circuit.edge.estimate" data-value={edge.value}>{formatValue(edge.value)}</dd>
      <dt>Exact path patch, {unit}</dt>
      <dd data-testid="circuit.edge.exact" data-value={exact ?? ''}>{exact !== undefined ? formatValue(exact) : pending ? 'computing…' : 'n/a'}</dd>
      <dt>Difference (estimate − exact)</dt>
      <dd data-testid="circuit.edge.difference" data-value={exact !== undefined ? edge.value - exact : ''}>
        {exact !== undefined ? formatValue(edge.value - exact) : '–'}
      </dd>
    </dl>
  );
}

function NodeEdges({ node, edges, exact, onEdge }: { node: string; edges: GraphEdge[]; exact: Map<string, number>; onEdge: (e: GraphEdge) => void }) {
  const { incoming, outgoing } = incident(edges, node);
  const list = (title: string, es: GraphEdge[], id: string) => (
    <div>
      <h4>{title} ({es.length} shown)</h4>
      <ul className="pw-edge-list" data-testid={`circuit.node.${id}`}>
        {es.map((e) => (
          <li key={e.name}>
            <button type="button" onClick={() => onEdge(e)} aria-label={`Patch edge ${e.name}: attribution ${formatValue(e.value)}`}>
              {e.name}: {formatValue(e.value)}{exact.has(e.name) ? ` (exact ${formatValue(exact.get(e.name)!)})` : ''}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
  return (
    <div data-testid="circuit.node.details">
      <p>Node <strong>{node}</strong> (its edges among those shown, largest |attribution| first; click to patch exactly)</p>
      <div>
        {list('Incoming', incoming, 'incoming')}
        {list('Outgoing', outgoing, 'outgoing')}
      </div>
    </div>
  );
}

function CurvePanel({ data, ranked, n, curve, nodeCurve, metric, scale }: {
  data: CircuitData; ranked: GraphEdge[]; n: number; curve?: { n: number; metric: number; faithfulness: number }[];
  nodeCurve?: { n: number; metric: number; faithfulness: number }[]; metric: { clean: number; corrupted: number }; scale: Scale;
}) {
  const progress = useCircuit((s) => s.curve);
  const error = useCircuit((s) => s.curveError);
  const start = () => {
    const edgeReqs: CurveRequest[] = curveSteps(ranked.length).map((k) => ({ n: k, edges: ranked.slice(0, k).map(({ sender, receiver }) => ({ sender, receiver })) }));
    const nodes = rankedNodes(data);
    const nodeReqs: CurveRequest[] = curveSteps(nodes.length, [1, 3, 10, 30, 100]).map((k) => ({ n: k, edges: nodeCircuit(data, nodes.slice(0, k).map((x) => x.sender)) }));
    void runCurves(edgeReqs, nodeReqs);
  };
  return (
    <section className="pw-figure" data-testid="circuit.curve" aria-label="Faithfulness curve">
      <h3>Faithfulness</h3>
      <p className="pw-muted">
        Exact circuit evaluation: the clean run in which every edge outside the circuit carries its corrupted value;
        faithfulness = (M_C − M_corrupted) / (M_clean − M_corrupted). Edge circuits take the top N edges by |attribution|
        (N = 0 is the corrupted metric, all edges the clean one). Node circuits take the top N heads and MLPs by node
        attribution (the sum of their outgoing edges' scores) and keep every edge out of them plus every edge out of
        the input.
      </p>
      <div className="pw-row">
        <button type="button" onClick={start} disabled={!!progress} data-testid="circuit.curve.run">Run faithfulness curve</button>
        {progress ? (
          <>
            <progress max={progress.total} value={progress.done} aria-label="Faithfulness curve progress" data-testid="circuit.curve.progress" />
            <span>{progress.done}/{progress.total}</span>
            <button type="button" onClick={cancelCurves} data-testid="circuit.curve.cancel">Cancel</button>
          </>
        ) : null}
      </div>
      {error ? <p className="pw-error" role="alert">{error}</p> : null}
      {curve ? (
        <>
          {/* Normalised: faithfulness (0 = corrupted, 1 = clean); raw: the circuit's metric in the metric's unit. */}
          <FaithfulnessCurve edges={curve} nodes={nodeCurve} options={{ currentN: n, ...(scale.normalised ? {} : { raw: { ...metric, unit: scale.unit } }) }} />
          <p className="pw-muted" data-testid="circuit.curve.ends">
            Clean {formatValue(metric.clean)}, corrupted {formatValue(metric.corrupted)}; empty circuit {formatValue(curve[0].metric)}, all
            edges {formatValue(curve[curve.length - 1].metric)}.
          </p>
        </>
      ) : null}
    </section>
  );
}
