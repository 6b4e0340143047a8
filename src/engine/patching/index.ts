// The patching engine's public face: one object per (runtime, model) that the CLI and the browser worker share.
import type { GPT2Config, Weights } from '../model/types';
import type { Runtime } from '../runtime/types';
import { ActivationPatcher, type SweepOptions } from './activation';
import { runAttribution, type AttributionRequest, type AttributionResult } from './attribution';
import { EdgePatcher, type EdgeRunOptions } from './circuit';
import { runEdgeAttribution, type Edge, type EdgeLayout, type EdgeScores } from './edges';
import { experimentFromTokens, resolveExperiment, type Experiment } from './experiment';
import type { PerToken } from './continuations';
import { perTokenLogprobs } from './continuation-metric';
import { runInspection, type InspectOptions, type Inspection } from './inspect';
import { prepareMetric } from './metrics';
import { cellPatch, jointPatch, patchOnTop, type Cell, type OnTopOptions } from './node-sets';
import type { ExperimentSpec, Family, Labelled } from './types';
import type { Method } from './estimators';
import { FAMILIES, familyEntry } from './families';
import { verifyTopK, type Verification, type VerifyOptions } from './verify';

/** Gaussian-noise corruption is built into attribution and activation patching only. */
/** Cells patched on top as the edge engine takes them (none: the plain run). */
const onTopPatch = (cells: Cell[] = []) => (cells.length ? cellPatch(cells) : undefined);

function noNoise(exp: Experiment): void {
  if (exp.noise) throw new Error('Gaussian-noise corruption works with attribute and patch (attribution and activation patching), not with edges, paths, circuits, joint patches or inspect.');
}

export class PatchingEngine {
  private patcher: ActivationPatcher;
  private edgePatcher: EdgePatcher;

  private constructor(
    readonly rt: Runtime,
    readonly cfg: GPT2Config,
  ) {
    this.patcher = new ActivationPatcher(rt, cfg);
    this.edgePatcher = new EdgePatcher(rt, cfg);
  }

  /** Holds the weights on the runtime's device once; every graph shares them. */
  static async create(rt: Runtime, cfg: GPT2Config, weights: Weights): Promise<PatchingEngine> {
    await rt.setWeights(weights);
    return new PatchingEngine(rt, cfg);
  }

  /**
   * Runs the attribution and patch graphs once on a two-token prompt, so that a GPU backend compiles its shaders
   * right after loading rather than on the user's first Run.
   */
  async warmup(): Promise<void> {
    const bos = this.cfg.dVocab - 1;
    const exp = experimentFromTokens({ clean: [[bos, 0]], corrupted: [[bos, 1]], answers: [0], wrongs: [1] });
    await this.attribute(exp, { families: ['resid_pre', 'head_out', 'pattern'] });
    await this.patch(exp, 'head_out', [0, 0, 1]);
  }

  /**
   * Creates the sessions that a first Run and a first click need (attribution of `families`, the cache graphs,
   * one patch graph) on a three-token prompt. Their graphs have symbolic sizes (runtime/symbolic.ts), so the same
   * sessions then serve the user's prompts of any length with one pair and a one-position metric; the browser
   * worker runs this after a model loads without waiting for it (runs queue behind it).
   */
  async prewarm(families: Family[] = FAMILIES.filter((f) => familyEntry(f).view)): Promise<void> {
    const bos = this.cfg.dVocab - 1;
    const exp = experimentFromTokens({ clean: [[bos, 0, 1]], corrupted: [[bos, 2, 1]], answers: [0], wrongs: [1] });
    await this.attribute(exp, { families });
    await this.metrics(exp);
    await this.patch(exp, 'head_out', [0, 0, 2]);
  }

  /** What a metric needs before any graph runs (kl: the clean run's distribution, metrics.ts prepareMetric). */
  prepare(exp: Experiment): Promise<Experiment> {
    return prepareMetric(this.rt, this.cfg, exp);
  }

  /** Resolves texts to tokens (one-token answers; the CLI's multi-token answers: resolveWithContinuations). */
  resolve(spec: ExperimentSpec): Experiment {
    return resolveExperiment(spec, this.cfg);
  }

  /** A teacher-forced experiment's per-token log-probs in both runs, per pair. */
  perToken(exp: Experiment): Promise<PerToken[]> {
    return perTokenLogprobs(this.rt, this.cfg, exp);
  }

  async attribute(exp: Experiment, req?: AttributionRequest): Promise<AttributionResult> {
    await this.prepare(exp);
    return runAttribution(this.rt, this.cfg, exp, req);
  }

  /** metric(base) and metric(source) as clean / corrupted. */
  async metrics(exp: Experiment): Promise<{ clean: number; corrupted: number }> {
    await this.prepare(exp);
    const m = await this.patcher.metrics(exp);
    return exp.spec.direction === 'denoising' ? { clean: m.source, corrupted: m.base } : { clean: m.base, corrupted: m.source };
  }

  async patch(exp: Experiment, family: Family, index: number[]): Promise<number> {
    await this.prepare(exp);
    return this.patcher.patch(exp, family, index);
  }

  async patchCells(exp: Experiment, family: Family, indices: number[][], opts?: SweepOptions): Promise<Float64Array> {
    await this.prepare(exp);
    return this.patcher.patchCells(exp, family, indices, opts);
  }

  async sweep(exp: Experiment, family: Family, opts?: SweepOptions): Promise<Labelled> {
    await this.prepare(exp);
    return this.patcher.sweep(exp, family, opts);
  }

  /** A sweep with each pair's own values [pair, ...layout] and metrics (datasets, dataset.ts). */
  async sweepPairs(exp: Experiment, family: Family, opts?: SweepOptions) {
    await this.prepare(exp);
    return this.patcher.sweepPairs(exp, family, opts);
  }

  /** Senders, receivers and which senders feed each receiver, for this model. */
  edgeLayout(): EdgeLayout {
    return this.edgePatcher.layout;
  }

  /**
   * Edge attribution: every edge's score from one backward pass (edges.ts), or by another estimator; with `onTop`,
   * of the base run with those cells already patched (plain AtP).
   */
  async edgeScores(exp: Experiment, method: Method = 'atp', steps = 1, onTop?: Cell[]): Promise<EdgeScores> {
    noNoise(exp);
    await this.prepare(exp);
    return runEdgeAttribution(this.rt, this.cfg, exp, method, steps, onTopPatch(onTop));
  }

  /** Exact direct path patch of each edge alone (on the base run with `onTop` patched, if given). */
  async pathPatch(exp: Experiment, edges: Edge[], opts: EdgeRunOptions = {}, onTop?: Cell[]): Promise<Float64Array> {
    noNoise(exp);
    await this.prepare(exp);
    return this.edgePatcher.pathPatch(exp, edges, { ...opts, patched: onTopPatch(onTop) });
  }

  /** Circuit evaluation (EAP-IG's evaluate_graph): metric and faithfulness per edge set; `onTop` as in pathPatch. */
  async evaluateCircuits(exp: Experiment, circuits: Edge[][], opts: EdgeRunOptions = {}, onTop?: Cell[]): Promise<{ metric: number; faithfulness: number }[]> {
    noNoise(exp);
    await this.prepare(exp);
    return this.edgePatcher.faithfulness(exp, circuits, { ...opts, patched: onTopPatch(onTop) });
  }

  /**
   * The exact patch of a set of cells together (node-sets.ts); with `onTop`, on the base run in which those cells
   * are already patched: joint(onTop + cells) - joint(onTop).
   */
  async jointPatch(exp: Experiment, cells: Cell[], onTop: Cell[] = []): Promise<number> {
    noNoise(exp);
    await this.prepare(exp);
    const joint = await jointPatch(this.rt, this.cfg, exp, [...onTop, ...cells]);
    return onTop.length ? joint - (await jointPatch(this.rt, this.cfg, exp, onTop)) : joint;
  }

  /**
   * Exact patches of cells on the base run with `onTop` already patched (the app's "Attribute on top"):
   * metric(base + set + cell) - metric(base + set). An empty set is the plain activation patch.
   */
  async patchOnTop(exp: Experiment, onTop: Cell[], family: Family, indices: number[][], opts?: OnTopOptions): Promise<Float64Array> {
    if (!onTop.length) return this.patchCells(exp, family, indices, opts);
    noNoise(exp);
    await this.prepare(exp);
    return patchOnTop(this.rt, this.cfg, exp, onTop, family, indices, opts);
  }

  /** Exact patches of an estimate's top K cells and R random others (and the recall, given a full sweep). */
  async verifyTopK(exp: Experiment, family: Family, estimate: Labelled, opts: VerifyOptions, onTop: Cell[] = []): Promise<Verification> {
    await this.prepare(exp);
    return verifyTopK((e, f, i, o) => this.patchOnTop(e, onTop, f, i, o), exp, family, estimate, opts);
  }

  /** Top-k next tokens, direct logit attribution and the logit lens at the metric position (inspect.ts). */
  async inspect(exp: Experiment, opts?: InspectOptions): Promise<Inspection> {
    noNoise(exp);
    if (exp.forced) throw new Error('inspect reads one next-token distribution; a multi-token answer (teacher forcing) has several: give one-token answers.');
    await this.prepare(exp);
    return runInspection(this.rt, this.cfg, exp, opts);
  }

  async dispose(): Promise<void> {
    this.patcher.clear();
    this.edgePatcher.clear();
    await this.rt.dispose();
  }
}

export { normaliser } from './normalise';
export * from './types';
export { resolveExperiment, experimentFromTokens, ExperimentError, METRICS, type Experiment, type InputIssue } from './experiment';
export {
  INTERNAL_METRICS, LOGIT_METRICS, METRIC_SYNTAX, formatMetric, isInternalMetric, metricHook, notUpstream, notUpstreamLayers, parseMetric,
  type InternalMetricName,
} from './metric-spec';
export {
  FAMILY_TABLE, FAMILIES, CONTRACT_FAMILIES, parseFamilies, familyAxes, familyEntry, familyShape, hookFor, cellSelector, isFamily,
} from './families';
export type { AttributionResult, AttributionMode } from './attribution';
export type { SweepOptions } from './activation';
export {
  ablatedExperiment, ablationSweepPairs, checkMeanAblation, familyHooks, meanActivations, referenceLength, type Ablation, type AblatedRun, type AblationMode,
} from './ablation';
export {
  DatasetError, batches, datasetFormat, joinExperiments, meanAndSem, parsePairs, resolvePairs, runBatches,
  type DatasetSummary, type PairLabelled, type PairRecord,
} from './dataset';
export {
  EdgeNameError, edgeLayout, edgeName, parseEdge, parseEdges, allEdges, rankEdges,
  type Edge, type EdgeLayout, type EdgeScores,
} from './edges';
export type { EdgeRunOptions } from './circuit';
export { foldRows, needsForcing, pairCount, resolveWithContinuations, type Forced, type PerToken, type TokenLogprob } from './continuations';
export { CellNameError, cellName, cellPatch, parseCell, parseCells, type Cell, type CellPatch } from './node-sets';
export type { Verification, VerifiedCell, VerifyOptions } from './verify';
export type { DirectLogitAttribution, InspectOptions, Inspection, TokenScore } from './inspect';
export { ESTIMATORS, METHODS, isMethod, type Method } from './estimators';
export { topK, named, type TopEntry } from './labelled';
