// The views a researcher checks before trusting a patch (issue 14): the Inspect tab's inspection (top-5 next tokens,
// direct logit attribution, logit lens; worker `inspect` -> engine inspect.ts), the raw attention pattern of the
// Attention tab's head (worker `pattern`), and the Neurons tab's mlp_post attribution (on demand: [layer, pos, d_mlp]
// is too big to compute on every Run) with "Patch top K". Results sit in caches keyed by run and inputs; the small
// store holds status only, like the circuit cache.
import { create } from 'zustand';
import type { Inspection } from '../../engine/patching/inspect';
import type { ExperimentSpec } from '../../engine/patching/types';
import { describeError, INSPECT_KL_MESSAGE, type RawPattern } from '../../worker/protocol';
import { canonicalJson } from '../permalink';
import type { RunResult } from '../results';
import { bumpRun, cannotPatch, currentRun, engine } from './shared';
import { sweep } from './sweep';

export interface InspectState {
  /** Key (inspectKey) of the inspection shown or being computed. */
  key: string | null;
  status: 'idle' | 'computing' | 'done' | 'error';
  error: string | null;
  /** The pair the logit lens and the top-5 lists read. */
  lensPair: number;
  /** Which run's components the DLA table shows. */
  dlaRun: 'clean' | 'corrupted';
  patternKey: string | null;
  patternStatus: 'idle' | 'computing' | 'done' | 'error';
  patternError: string | null;
  neuronStatus: 'idle' | 'computing' | 'error';
  neuronError: string | null;
}

export const useInspect = create<InspectState>(() => ({
  key: null,
  status: 'idle',
  error: null,
  lensPair: 0,
  dlaRun: 'clean',
  patternKey: null,
  patternStatus: 'idle',
  patternError: null,
  neuronStatus: 'idle',
  neuronError: null,
}));

const inspections = new Map<string, Inspection>();
const patterns = new Map<string, RawPattern>();
const KEEP = 8;

function remember<T>(m: Map<string, T>, key: string, value: T): void {
  m.set(key, value);
  while (m.size > KEEP) m.delete(m.keys().next().value!);
}

/** The inputs an inspection belongs to: the run, the spec on screen (a dataset's pair swaps it) and the lens pair. */
export function inspectKey(r: RunResult, lensPair: number): string {
  return `${r.id}:${r.modelKey}:${canonicalJson(r.spec)}:${lensPair}`;
}

export function getInspection(key: string | null): Inspection | undefined {
  return key === null ? undefined : inspections.get(key);
}

/** Pairs one inspection reads at most: its logits are [2 x pairs, d_vocab] (50257 wide for GPT-2). */
export const MAX_INSPECT_PAIRS = 16;

/** Why the run's metric or size cannot be inspected, or null. */
export function inspectRefusal(spec: ExperimentSpec): string | null {
  if (spec.metric.name === 'kl') return INSPECT_KL_MESSAGE;
  if (spec.pairs.length > MAX_INSPECT_PAIRS) {
    return `Inspect reads up to ${MAX_INSPECT_PAIRS} pairs at once (this run has ${spec.pairs.length}): choose one pair with the pair selector.`;
  }
  return null;
}

/** Inspection of the run on screen (once per run, inputs and lens pair). */
export async function computeInspection(lensPair = useInspect.getState().lensPair): Promise<void> {
  const r = currentRun();
  if (!r) return;
  const pair = Math.min(lensPair, r.spec.pairs.length - 1);
  const key = inspectKey(r, pair);
  const s = useInspect.getState();
  if (s.key === key && (s.status === 'computing' || inspections.has(key))) return;
  if (inspections.has(key)) return void useInspect.setState({ key, lensPair: pair, status: 'done', error: null });
  const refused = inspectRefusal(r.spec) ?? cannotPatch(r);
  if (refused) return void useInspect.setState({ key, lensPair: pair, status: 'error', error: refused });
  useInspect.setState({ key, lensPair: pair, status: 'computing', error: null });
  try {
    const value = await engine().inspect(r.modelKey, r.spec, pair);
    remember(inspections, key, value);
    if (useInspect.getState().key === key) useInspect.setState({ status: 'done' });
  } catch (e) {
    if (useInspect.getState().key === key) useInspect.setState({ status: 'error', error: describeError(e) });
  }
}

export function setLensPair(pair: number): void {
  void computeInspection(pair);
}

export function setDlaRun(dlaRun: 'clean' | 'corrupted'): void {
  useInspect.setState({ dlaRun });
}

export function patternKey(r: RunResult, head: { layer: number; head: number }): string {
  return `${r.id}:${r.modelKey}:${canonicalJson(r.spec)}:${head.layer}.${head.head}`;
}

export function getPattern(key: string | null): RawPattern | undefined {
  return key === null ? undefined : patterns.get(key);
}

/** The raw attention pattern of one head on the run's first pair, clean and corrupted (the Attention tab). */
export async function computePattern(head: { layer: number; head: number }): Promise<void> {
  const r = currentRun();
  if (!r) return;
  const key = patternKey(r, head);
  if (patterns.has(key)) return void useInspect.setState({ patternKey: key, patternStatus: 'done', patternError: null });
  if (useInspect.getState().patternKey === key && useInspect.getState().patternStatus === 'computing') return;
  const refused = cannotPatch(r);
  if (refused) return void useInspect.setState({ patternKey: key, patternStatus: 'error', patternError: refused });
  useInspect.setState({ patternKey: key, patternStatus: 'computing', patternError: null });
  try {
    remember(patterns, key, await engine().pattern(r.modelKey, r.spec, head.layer, head.head, 0));
    if (useInspect.getState().patternKey === key) useInspect.setState({ patternStatus: 'done' });
  } catch (e) {
    if (useInspect.getState().patternKey === key) useInspect.setState({ patternStatus: 'error', patternError: describeError(e) });
  }
}

let neuronsFor: number | null = null;

/**
 * mlp_post attribution ([layer, pos, neuron]) of the run on screen, with the run's own estimator and cells on top,
 * written into the run's attribution so clicks, sweeps, the details panel and exports treat it as any family.
 */
export async function computeNeurons(): Promise<void> {
  const r = currentRun();
  if (!r || r.attribution.mlp_post || neuronsFor === r.id) return;
  const refused = cannotPatch(r);
  if (refused) return void useInspect.setState({ neuronStatus: 'error', neuronError: refused });
  neuronsFor = r.id;
  useInspect.setState({ neuronStatus: 'computing', neuronError: null });
  try {
    const out = await engine().attribute(r.modelKey, r.spec, ['mlp_post'], 'patch', undefined, { method: r.method ?? 'atp', steps: r.steps ?? 1 }, r.onTop);
    r.attribution.mlp_post = out.values.mlp_post!;
    useInspect.setState({ neuronStatus: 'idle' });
    bumpRun();
  } catch (e) {
    useInspect.setState({ neuronStatus: 'error', neuronError: describeError(e) });
  } finally {
    if (neuronsFor === r.id) neuronsFor = null;
  }
}

/** Exact activation patches of the listed neuron cells (the table's top K), with the sweep's progress and Cancel. */
export function patchNeurons(indices: number[][]): Promise<void> {
  return sweep([{ family: 'mlp_post', indices }], `the top ${indices.length} neurons`);
}
