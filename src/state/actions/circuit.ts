// The Circuit tab's actions (issue 11): edge scores of the run on screen, exact path patches of edges, the
// faithfulness curves, and the tab's N and selection. Results go to the circuit cache (state/circuit.ts), keyed by
// run and tied to the run's model like every other result.
import { describeError, isAbort, type EdgeRef } from '../../worker/protocol';
import { getCircuit, getCircuitState, putCircuit, setCircuitState, type CircuitResult, type CurvePoint } from '../circuit';
import { getState } from '../store';
import { cannotPatch, currentRun, engine } from './shared';

const bump = () => setCircuitState((s) => ({ version: s.version + 1 }));

/** The circuit result of the run on screen, if computed. */
export function currentCircuit(): CircuitResult | undefined {
  return getCircuit(getState().run.id);
}

let edgesInFlight: number | null = null;

/** Edge attribution of every edge for the run on screen (once per run). */
export async function computeEdges(): Promise<void> {
  const r = currentRun();
  if (!r || getCircuit(r.id) || edgesInFlight === r.id) return;
  const refused = cannotPatch(r);
  if (refused) return void setCircuitState({ runId: r.id, status: 'error', error: refused });
  edgesInFlight = r.id;
  setCircuitState({ runId: r.id, status: 'computing', error: null, selectedEdge: null, selectedNode: null, edgeError: null, curveError: null });
  try {
    const scores = await engine().edgeScores(r.modelKey, r.spec);
    putCircuit({ runId: r.id, modelKey: r.modelKey, scores, exact: new Map() });
    if (getCircuitState().runId === r.id) setCircuitState({ status: 'done' });
    bump();
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
    const [v] = await engine().pathPatch(r.modelKey, r.spec, [edge]);
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
    });
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
