// Circuit results (issue 11), outside reactive state like results.ts: edge scores, exact path patches and the
// faithfulness curves sit in a cache keyed by run id; the small store below holds ids, N, selection and status.
import { create } from 'zustand';
import type { EdgeScoresPayload } from '../worker/protocol';

export interface CurvePoint {
  /** Edges in the circuit (edge curve) or nodes (node curve). */
  n: number;
  /** Edges evaluated (the node curve's circuits hold more edges than nodes). */
  edges: number;
  metric: number;
  faithfulness: number;
}

export interface CircuitResult {
  runId: number;
  /** The model the run was computed on (its results are tied to it, like the run's). */
  modelKey: string;
  scores: EdgeScoresPayload;
  /** Exact direct path patches by edge name. */
  exact: Map<string, number>;
  curve?: CurvePoint[];
  nodeCurve?: CurvePoint[];
}

const circuits = new Map<number, CircuitResult>();
const KEEP = 4;

export function putCircuit(c: CircuitResult): void {
  circuits.set(c.runId, c);
  while (circuits.size > KEEP) circuits.delete(circuits.keys().next().value!);
}

/** Forgets a run's circuit (its pair on screen changed, issue 13: actions/dataset.ts keeps each pair's). */
export function dropCircuit(runId: number): void {
  circuits.delete(runId);
}

export function getCircuit(runId: number | null | undefined): CircuitResult | undefined {
  return runId == null ? undefined : circuits.get(runId);
}

export interface CircuitState {
  /** Run whose edge scores are (being) computed. */
  runId: number | null;
  status: 'idle' | 'computing' | 'done' | 'error';
  error: string | null;
  /** Bumped when the cached circuit result changes (exact values, curves). */
  version: number;
  /** Edges drawn (top N by |attribution|). */
  n: number;
  selectedEdge: string | null;
  selectedNode: string | null;
  /** Edge whose exact path patch is in flight. */
  pendingEdge: string | null;
  edgeError: string | null;
  curve: { done: number; total: number } | null;
  curveError: string | null;
}

export const DEFAULT_CIRCUIT_N = 20;

export const useCircuit = create<CircuitState>(() => ({
  runId: null,
  status: 'idle',
  error: null,
  version: 0,
  n: DEFAULT_CIRCUIT_N,
  selectedEdge: null,
  selectedNode: null,
  pendingEdge: null,
  edgeError: null,
  curve: null,
  curveError: null,
}));

export const getCircuitState = useCircuit.getState;
export const setCircuitState = useCircuit.setState;
