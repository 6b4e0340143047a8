// The Circuit tab's actions (issue 11): edge scores of the run on screen, exact path patches of edges, the
// faithfulness curves, and the tab's N and selection. Results go to the circuit cache (state/circuit.ts), keyed by
// run and tied to the run's model like every other result.
import { describeError, isAbort, type EdgeRef, type EdgeScoresPayload } from '../../worker/protocol';
import {
  DEFAULT_CIRCUIT_N, getCircuit, getCircuitState, putCircuit, setCircuitState, type CircuitResult, type CurvePoint,
} from '../circuit';
import { getState, setState } from '../store';
import { cannotPatch, currentRun, engine } from './shared';

const bump = () => setCircuitState((s) => ({ version: s.version + 1 }));

/** The circuit result of the run on screen, if computed. */
export function currentCircuit(): CircuitResult | undefined {
  return getCircuit(getState().run.id);
}

let edgesInFlight: number | null = null;

/** A link's edge or node, applied once the next run's edge scores show whether the model has it. */
let fromLink: { edge?: string; node?: string } | null = null;

/** The Circuit tab's part of a link: N now; the edge or node once the edges of the link's run are in. */
export function applyCircuitLink(c: { n: number; edge?: string; node?: string } | undefined): void {
  fromLink = c && (c.edge || c.node) ? { edge: c.edge, node: c.node } : null;
  setCircuitState({ n: c?.n ?? DEFAULT_CIRCUIT_N, selectedEdge: null, selectedNode: null });
}

/** The link's part of the Circuit tab's state. */
export function circuitLinkState(): { n: number; edge?: string; node?: string } {
  const s = getCircuitState();
  return { n: s.n, ...(s.selectedEdge ? { edge: s.selectedEdge } : {}), ...(s.selectedNode ? { node: s.selectedNode } : {}) };
}

/** An edge name's indices in this layout, or null when the model has no such edge. */
export function findEdge(scores: EdgeScoresPayload, name: string): EdgeRef | null {
  const [s, r] = name.split('->');
  const sender = scores.senders.indexOf(s);
  const receiver = scores.receivers.indexOf(r);
  return sender >= 0 && receiver >= 0 && sender < scores.upstream[receiver] ? { sender, receiver } : null;
}

function hasNode(scores: EdgeScoresPayload, node: string): boolean {
  return node === 'logits' || scores.senders.includes(node);
}

/** Edge attribution of every edge for the run on screen (once per run). */
export async function computeEdges(): Promise<void> {
  const r = currentRun();
  if (!r || getCircuit(r.id) || edgesInFlight === r.id) return;
  const refused = cannotPatch(r);
  if (refused) return void setCircuitState({ runId: r.id, status: 'error', error: refused });
  edgesInFlight = r.id;
  setCircuitState({ runId: r.id, status: 'computing', error: null, selectedEdge: null, selectedNode: null, edgeError: null, curveError: null });
  try {
    const scores = await engine().edgeScores(r.modelKey, r.spec, undefined, r.onTop);
    putCircuit({ runId: r.id, modelKey: r.modelKey, scores, exact: new Map() });
    if (getCircuitState().runId === r.id) setCircuitState({ status: 'done' });
    bump();
    const link = fromLink;
    fromLink = null;
    if (link && getCircuitState().runId === r.id) {
      const dropped: string[] = [];
      if (link.node) {
        if (hasNode(scores, link.node)) setCircuitState({ selectedNode: link.node });
        else dropped.push(`node ${link.node}`);
      }
      if (link.edge) {
        const ref = findEdge(scores, link.edge);
        if (ref) void patchEdge(link.edge, ref);
        else dropped.push(`edge ${link.edge}`);
      }
      if (dropped.length) setState({ notice: { kind: 'info', text: `The link's ${dropped.join(' and ')}: not in this model, so it is not shown.` } });
    }
  } catch (e) {
    if (getCircuitState().runId === r.id) setCircuitState({ status: 'error', error: describeError(e) });
  } finally {
    if (edgesInFlight === r.id) edgesInFlight = null;
  }
}

export function setCircuitN(n: number): void {
  setCircuitState({ n: Math.max(1, Math.round(n)) });
}

export function selectNode(node: string | null): void {
  setCircuitState({ selectedNode: node });
}

/** Selects an edge and runs its exact direct path patch (once per run and edge). */
export async function patchEdge(name: string, edge: EdgeRef): Promise<number | null> {
  const r = currentRun();
  const c = currentCircuit();
  setCircuitState({ selectedEdge: name, edgeError: null });
  if (!r || !c) return null;
  const known = c.exact.get(name);
  if (known !== undefined) return known;
  const refused = cannotPatch(r);
  if (refused) return void setCircuitState({ edgeError: refused }), null;
  setCircuitState({ pendingEdge: name });
  try {
    const [v] = await engine().pathPatch(r.modelKey, r.spec, [edge], {}, r.onTop);
    c.exact.set(name, v);
    bump();
    return v;
  } catch (e) {
    setCircuitState({ edgeError: describeError(e) });
    return null;
  } finally {
    if (getCircuitState().pendingEdge === name) setCircuitState({ pendingEdge: null });
  }
}

export interface CurveRequest {
  /** Edges (edge curve) or nodes (node curve) in the circuit. */
  n: number;
  edges: EdgeRef[];
}

let curveController: AbortController | null = null;

/** Exact circuit evaluation at every point of both curves, with progress; cancelCurves() stops it. */
export async function runCurves(edgeCurve: CurveRequest[], nodeCurve: CurveRequest[]): Promise<void> {
  const r = currentRun();
  const c = currentCircuit();
  if (!r || !c) return;
  const refused = cannotPatch(r);
  if (refused) return void setCircuitState({ curveError: refused });
  cancelCurves();
  const controller = new AbortController();
  curveController = controller;
  const all = [...edgeCurve, ...nodeCurve];
  setCircuitState({ curve: { done: 0, total: all.length }, curveError: null });
  try {
    const out = await engine().evaluateCircuits(r.modelKey, r.spec, all.map((p) => p.edges), {
      signal: controller.signal,
      onProgress: (p) => { if (curveController === controller) setCircuitState({ curve: { done: p.done, total: p.total } }); },
    }, r.onTop);
    const points = (reqs: CurveRequest[], offset: number): CurvePoint[] =>
      reqs.map((p, i) => ({ n: p.n, edges: p.edges.length, ...out[offset + i] }));
    c.curve = points(edgeCurve, 0);
    c.nodeCurve = points(nodeCurve, edgeCurve.length);
    bump();
  } catch (e) {
    if (!isAbort(e) && curveController === controller) setCircuitState({ curveError: describeError(e) });
  } finally {
    if (curveController === controller) {
      curveController = null;
      setCircuitState({ curve: null });
    }
  }
}

export function cancelCurves(): void {
  curveController?.abort();
  curveController = null;
  if (getCircuitState().curve) setCircuitState({ curve: null });
}
