// The patching engine's public face: one object per (runtime, model) that the CLI and the browser worker share.
import type { GPT2Config, Weights } from '../model/types';
import type { Runtime } from '../runtime/types';
import { ActivationPatcher, type SweepOptions } from './activation';
import { runAttribution, type AttributionRequest, type AttributionResult } from './attribution';
import { experimentFromTokens, resolveExperiment, type Experiment } from './experiment';
import type { ExperimentSpec, Family, Labelled } from './types';

export class PatchingEngine {
  private patcher: ActivationPatcher;

  private constructor(
    readonly rt: Runtime,
    readonly cfg: GPT2Config,
  ) {
    this.patcher = new ActivationPatcher(rt, cfg);
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

  resolve(spec: ExperimentSpec): Experiment {
    return resolveExperiment(spec, this.cfg);
  }

  attribute(exp: Experiment, req?: AttributionRequest): Promise<AttributionResult> {
    return runAttribution(this.rt, this.cfg, exp, req);
  }

  /** metric(base) and metric(source) as clean / corrupted. */
  async metrics(exp: Experiment): Promise<{ clean: number; corrupted: number }> {
    const m = await this.patcher.metrics(exp);
    return exp.spec.direction === 'denoising' ? { clean: m.source, corrupted: m.base } : { clean: m.base, corrupted: m.source };
  }

  patch(exp: Experiment, family: Family, index: number[]): Promise<number> {
    return this.patcher.patch(exp, family, index);
  }

  patchCells(exp: Experiment, family: Family, indices: number[][], opts?: SweepOptions): Promise<Float64Array> {
    return this.patcher.patchCells(exp, family, indices, opts);
  }

  sweep(exp: Experiment, family: Family, opts?: SweepOptions): Promise<Labelled> {
    return this.patcher.sweep(exp, family, opts);
  }

  async dispose(): Promise<void> {
    this.patcher.clear();
    await this.rt.dispose();
  }
}

export { normaliser } from './normalise';
export * from './types';
export { resolveExperiment, experimentFromTokens, ExperimentError, METRICS, type Experiment, type InputIssue } from './experiment';
export { FAMILIES, CONTRACT_FAMILIES, parseFamilies, familyShape, hookFor, cellSelector, isFamily } from './families';
export type { AttributionResult, AttributionMode } from './attribution';
export type { SweepOptions } from './activation';
export { topK, named, type TopEntry } from './top-k';
