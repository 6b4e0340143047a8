// Datasets in the app (issue 13): import a pairs file, generate corrupted prompts, run every pair (per-pair values,
// mean and sem from the worker, in batches with progress and cancel), show one pair or all on every view, and say
// what a link can carry.
import {
  abcPairs, CorruptError, flipPairs, inductionPairs, randomPairs, toJsonl, type GeneratedPair, type InductionVariant,
} from '../../engine/patching/corrupt';
import { resolvePairs, type PairRecord } from '../../engine/patching/dataset';
import { ExperimentError, type Experiment } from '../../engine/patching/experiment';
import type { ExperimentSpec } from '../../engine/patching/types';
import { describeError, isAbort } from '../../worker/protocol';
import {
  datasetLinkPairs, datasetSpec, pairOf, pairSlice, parseDatasetText, perPairCapMessage, plainRecord, recordsOfPairs,
  useDatasetStore, type Dataset,
} from '../dataset';
import { dropCircuit, getCircuit, putCircuit, setCircuitState, type CircuitResult } from '../circuit';
import { canonicalJson } from '../permalink';
import { newRunId, putRun, type PairView, type RunResult } from '../results';
import { getState, setState } from '../store';
import { RUN_FAMILIES, showResult, validate } from './run';
import { patchCell } from './selection';
import { bumpRun, currentRun, engine, isCurrentRunGeneration, nextRunGeneration } from './shared';
import { cancelSweep } from './sweep';

const dataset = () => useDatasetStore.getState();

/** Reads a dataset file; on any problem the message names the line and field and nothing else changes. */
export function importDatasetText(name: string, text: string): boolean {
  const parsed = parseDatasetText(name, text);
  if (!parsed.ok) {
    useDatasetStore.setState({ importError: parsed.message });
    return false;
  }
  useDatasetStore.setState({ dataset: { name, records: parsed.records }, importError: null, pair: null });
  return true;
}

export async function importDatasetFile(file: File): Promise<boolean> {
  let text: string;
  try {
    text = await file.text();
  } catch (e) {
    useDatasetStore.setState({ importError: `Cannot read ${file.name}: ${describeError(e)}` });
    return false;
  }
  return importDatasetText(file.name, text);
}

/** Back to the typed pairs (they were never changed). */
export function clearDataset(): void {
  useDatasetStore.setState({ dataset: null, importError: null, pair: null });
}

export function dismissDatasetError(): void {
  useDatasetStore.setState({ importError: null });
}

export type GeneratorChoice =
  | { generator: 'flip' }
  | { generator: 'abc'; seed: number }
  | { generator: 'random'; seed: number; positions: number[] }
  | { generator: 'induction'; seed: number; count: number; length: number; variant: InductionVariant };

/**
 * Corrupted pairs from the clean prompts on hand (the dataset's, else the typed pairs), with a seed, as the new
 * dataset; every pair carries its generator and seed in `meta`. On error the message says why and nothing changes.
 */
export function generateDataset(choice: GeneratorChoice): boolean {
  const source = dataset().dataset?.records ?? recordsOfPairs(getState().spec.pairs);
  let out: GeneratedPair[];
  try {
    if (choice.generator === 'flip') out = flipPairs(source);
    else if (choice.generator === 'abc') out = abcPairs(source, choice.seed);
    else if (choice.generator === 'random') {
      if (!choice.positions.length) throw new CorruptError('Random replacement needs at least one token position (e.g. 2 5).');
      out = randomPairs(source, choice.seed, choice.positions);
    } else {
      if (!(choice.count >= 1 && choice.count <= 1000)) throw new CorruptError('Induction: the number of pairs must be 1 to 1000.');
      out = inductionPairs(choice.count, choice.length, choice.seed, choice.variant);
    }
  } catch (e) {
    useDatasetStore.setState({ importError: e instanceof CorruptError ? e.message : describeError(e) });
    return false;
  }
  const seed = 'seed' in choice ? choice.seed : undefined;
  const detail = choice.generator === 'random' ? `positions ${choice.positions.join(' ')}`
    : choice.generator === 'induction' ? `${choice.variant}, ${choice.count} pairs of ${choice.length} tokens` : undefined;
  const name = `${choice.generator}${seed !== undefined ? `, seed ${seed}` : ''}${detail ? `, ${detail}` : ''}`;
  const records = out.map((p, i) => ({ ...p, line: i + 1 }));
  useDatasetStore.setState({ dataset: { name, records, generated: { generator: choice.generator, seed, detail } }, importError: null, pair: null });
  return true;
}

/** The dataset as a pairs file (JSONL), generator and seed included in each pair's meta. */
export function datasetJsonl(d: Dataset): string {
  return toJsonl(d.records.map(({ line: _line, ...p }) => ({ ...p, meta: (p.meta ?? {}) as Record<string, unknown> })));
}

/** The pairs the next Run computes one by one: the dataset's, or several typed pairs (plain AtP); null = one run. */
export function pairRunRecords(): { name: string; records: PairRecord[] } | null {
  const d = dataset().dataset;
  if (d) return { name: d.name, records: d.records };
  const { spec, estimator } = getState();
  if (spec.pairs.length > 1 && estimator.method === 'atp') return { name: 'typed pairs', records: recordsOfPairs(spec.pairs) };
  return null;
}

/** The spec the next Run computes (the dataset's pairs when one is loaded). */
export function nextRunSpec(spec: ExperimentSpec, d: Dataset | null): ExperimentSpec {
  return d ? datasetSpec(spec, d.records) : spec;
}

/** The spec a result was computed with, whichever pair is on screen. */
export function runSpecOf(r: RunResult): ExperimentSpec {
  return r.pairs?.allSpec ?? r.spec;
}

/** Whether the result on screen is not what Run would compute now (for the staleness line). */
export function inputsChanged(r: RunResult, spec: ExperimentSpec, d: Dataset | null): boolean {
  return canonicalJson(runSpecOf(r)) !== canonicalJson(nextRunSpec(spec, d));
}

let pairsController: AbortController | null = null;

/** A run of every pair: validated on the page (line and field named), then per-pair AtP in the worker. */
export async function runPairs(name: string, records: PairRecord[]): Promise<RunResult | null> {
  const { spec, model, estimator } = getState();
  const key = model.loadedKey!;
  const cfg = model.config!;
  const fail = (message: string) => {
    setState({ issues: [{ field: 'pairs', message }] });
    return null;
  };
  if (estimator.method !== 'atp') return fail(`A dataset runs with plain attribution patching (AtP), which gives each pair its own values; choose AtP to run ${name}.`);
  if (dataset().dataset) {
    // The editor's metric, direction and options apply to the dataset; its own pairs are not run.
    const { issues } = validate({ ...spec, pairs: [records[0]].map(pairOf) });
    const general = issues.filter((i) => i.pair === undefined);
    if (general.length) {
      setState({ issues: general });
      return null;
    }
  } else {
    const { issues } = validate(spec);
    setState({ issues });
    if (issues.length) return null;
  }
  let exps: Experiment[];
  try {
    exps = resolvePairs(records, spec, cfg, name);
  } catch (e) {
    if (!(e instanceof ExperimentError)) return fail(describeError(e));
    setState({ issues: e.issues.map((i) => ({ field: 'pairs' as const, message: i.message })) });
    return null;
  }
  const lengths = [...new Set(exps.map((e) => e.nPos))].sort((a, b) => a - b);
  if (lengths.length > 1) {
    const firstOf = (n: number) => records[exps.findIndex((e) => e.nPos === n)].line;
    return fail(`The app runs a dataset whose pairs all have one token length; ${name} has ${lengths.length} (${lengths.map((n) => `${n} tokens, e.g. line ${firstOf(n)}`).join('; ')}). Split it by length, or use the CLI (patchwork attribute --pairs FILE), which aligns positions from the end.`);
  }
  const cap = perPairCapMessage(cfg, RUN_FAMILIES, lengths[0], records.length);
  if (cap) return fail(cap);
  setState({ issues: [] });

  cancelSweep();
  pairsController?.abort();
  const controller = new AbortController();
  pairsController = controller;
  const generation = nextRunGeneration();
  const id = newRunId();
  setState((s) => ({ run: { ...s.run, status: 'running', error: null }, cellError: null, verified: null }));
  useDatasetStore.setState({ progress: { done: 0, total: records.length } });
  const t0 = performance.now();
  try {
    const r = await engine().attributePairs(key, spec, records, RUN_FAMILIES, {
      signal: controller.signal,
      onProgress: (p) => { if (pairsController === controller) useDatasetStore.setState({ progress: { done: p.done, total: p.total } }); },
    });
    if (!isCurrentRunGeneration(generation)) return null;
    const allSpec = datasetSpec(spec, records);
    const unpatchable = records.every(plainRecord) ? null
      : `${name} has per-pair positions or embedding noise, which exact patches in the app do not carry: use the CLI (patchwork patch --pairs FILE) for its exact patches.`;
    const result: RunResult = {
      id,
      spec: allSpec,
      model: model.choice,
      modelKey: key,
      metric: r.metric,
      tokens: exps[0].cleanDisplay[0],
      corruptedTokens: exps[0].corruptedDisplay[0],
      attribution: r.mean,
      patched: {},
      sem: r.sem,
      elapsedMs: performance.now() - t0,
      method: 'atp',
      steps: 1,
      pairs: {
        name, records, allSpec, metricPerPair: r.metricPerPair, perPair: r.perPair,
        tokens: exps.map((e) => ({ clean: e.cleanDisplay[0], corrupted: e.corruptedDisplay[0] })),
        shown: null, views: new Map(), unpatchable,
      },
    };
    putRun(result);
    const want = dataset().pair;
    showPair(result, want !== null && want < records.length ? want : null);
    useDatasetStore.setState({ pair: result.pairs!.shown });
    return showResult(result, !unpatchable);
  } catch (e) {
    if (!isCurrentRunGeneration(generation)) return null;
    const err = e as Error & { issues?: { field: 'pairs'; message: string }[] };
    if (err.issues) setState({ issues: err.issues.map((i) => ({ field: 'pairs' as const, message: i.message })) });
    setState((s) => ({ run: { ...s.run, status: s.run.id === null || !isAbort(e) ? (isAbort(e) ? 'idle' : 'error') : 'done', error: isAbort(e) ? null : describeError(e) } }));
    return null;
  } finally {
    if (pairsController === controller) {
      pairsController = null;
      useDatasetStore.setState({ progress: null });
    }
  }
}

/** Stops a dataset run between batches; the previous result stays. */
export function cancelPairs(): void {
  pairsController?.abort();
}

const viewKey = (pair: number | null) => (pair === null ? 'all' : String(pair));

function viewOf(r: RunResult): PairView {
  const { spec, metric, tokens, corruptedTokens, attribution, patched, cleanAttention, estimates, sem } = r;
  return { spec, metric, tokens, corruptedTokens, attribution, patched, cleanAttention, estimates, sem };
}

/** Each pair's circuit results (edge scores are per pair too), by "runId:pair". */
const pairCircuits = new Map<string, CircuitResult>();

/** Moves the circuit cache of a run from the pair shown to `pair`. */
function swapCircuit(r: RunResult, from: number | null, to: number | null): void {
  const c = getCircuit(r.id);
  if (c) pairCircuits.set(`${r.id}:${viewKey(from)}`, c);
  dropCircuit(r.id);
  const next = pairCircuits.get(`${r.id}:${viewKey(to)}`);
  if (next) putCircuit(next);
  setCircuitState({ runId: next ? r.id : null, status: next ? 'done' : 'idle', error: null, selectedEdge: null, pendingEdge: null, edgeError: null });
  if (pairCircuits.size > 32) pairCircuits.delete(pairCircuits.keys().next().value!);
}

/** Puts pair `pair` (null = all pairs) into the result's fields, keeping the one shown before with its patches. */
export function showPair(r: RunResult, pair: number | null): void {
  const p = r.pairs;
  if (!p) return;
  if (p.views.size || p.shown !== null) p.views.set(viewKey(p.shown), viewOf(r));
  else p.views.set('all', viewOf(r));
  let v = p.views.get(viewKey(pair));
  if (!v) {
    if (pair === null) throw new Error('showPair: the mean view is always kept');
    v = {
      spec: { ...p.allSpec, pairs: [pairOf(p.records[pair])] },
      metric: { clean: p.metricPerPair.clean[pair], corrupted: p.metricPerPair.corrupted[pair] },
      tokens: p.tokens[pair].clean,
      corruptedTokens: p.tokens[pair].corrupted,
      attribution: Object.fromEntries(Object.entries(p.perPair).map(([f, l]) => [f, pairSlice(l!, pair)])),
      patched: {},
      cleanAttention: undefined,
      estimates: undefined,
      sem: undefined,
    };
  }
  Object.assign(r, v);
  p.shown = pair;
}

/** The pair selector: every view, tooltip and exact patch follows the pair (null = all pairs, the mean). */
export function selectPair(pair: number | null): void {
  const r = currentRun();
  useDatasetStore.setState({ pair });
  if (!r?.pairs || r.pairs.shown === pair) return;
  if (pair !== null && !(Number.isInteger(pair) && pair >= 0 && pair < r.pairs.records.length)) return;
  cancelSweep();
  swapCircuit(r, r.pairs.shown, pair);
  showPair(r, pair);
  setState({ cellError: null, verified: null });
  bumpRun();
  const sel = getState().selected;
  if (sel && !r.pairs.unpatchable) void patchCell(sel.family, sel.index);
}

/**
 * The experiment a link carries and why it may not be the one on screen: a dataset's pairs when they fit a link
 * (at most 16 plain pairs), else the editor's typed pairs and a warning that the dataset is not in the link.
 */
export function linkExperiment(shown: RunResult | undefined, spec: ExperimentSpec): { experiment: ExperimentSpec; pair?: number; warning?: string } {
  const d = dataset().dataset;
  const runSpec = shown ? runSpecOf(shown) : nextRunSpec(spec, d);
  const records = shown?.pairs?.records ?? d?.records;
  const fromFile = shown?.pairs ? shown.pairs.name !== 'typed pairs' : !!d;
  const pair = shown?.pairs?.shown ?? undefined;
  if (!records || !fromFile) return { experiment: runSpec, ...(pair !== undefined && pair !== null ? { pair } : {}) };
  const fit = datasetLinkPairs({ name: shown?.pairs?.name ?? d!.name, records });
  if ('reason' in fit) return { experiment: spec, warning: fit.reason };
  return { experiment: runSpec, ...(pair !== undefined && pair !== null ? { pair } : {}) };
}

/** Opening a link: its pairs are the experiment (typed pairs), the dataset goes, its pair is shown after the run. */
export function applyLinkPair(pair: number | undefined): void {
  useDatasetStore.setState({ dataset: null, importError: null, pair: pair ?? null });
}
