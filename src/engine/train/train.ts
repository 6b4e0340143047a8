// The training loop: the engine computes loss and parameter gradients (trainingGraph), Adam updates the host
// weights in place, and the runtime is handed the updated weights before the next step.
//
// Only the embedding rows of the tokens the data uses are trained, on a compact model (vocab.ts).

import type { GPT2Config, Weights } from '../model/types';
import { int64Feed, type Runtime } from '../runtime/types';
import { Adam, learningRate, type AdamOptions, type Schedule } from './adam';
import { sequenceLength, trainBatches, type RepeatSpec, type TrainBatch } from './data';
import { initWeights } from './init';
import { gradName, trainingGraph } from './loss-graph';
import { compactBatch, compactConfig, expandVocab, trainedIds } from './vocab';

export interface LossAndGrads {
  loss: number;
  grads: Map<string, Float32Array>;
}


/** Loss and the gradient of every weight on one batch, at `weights` (which this hands to the runtime). */
export async function lossAndGrads(rt: Runtime, cfg: GPT2Config, weights: Weights, b: TrainBatch): Promise<LossAndGrads> {
  const n = b.rows.length;
  await rt.setWeights(weights);
  const key = `train-${cfg.name}-${cfg.dVocab}-${b.batch}x${b.pos}-${n}`;
  const out = await rt.run(key, () => trainingGraph(cfg, b.batch, b.pos, n), {
    tokens: int64Feed(b.tokens, [b.batch, b.pos]),
    rows: int64Feed(b.rows, [n]),
    targets: int64Feed(b.targets, [n]),
    row_weights: { dtype: 'float32', shape: [n, 1], data: Float32Array.from(b.weights) },
  });
  const grads = new Map<string, Float32Array>();
  for (const name of weights.keys()) grads.set(name, out[gradName(name)].data);
  return { loss: out.loss.data[0], grads };
}

/** Any training data: a seeded stream of batches of `pos`-token sequences. */
export interface BatchSource {
  pos: number;
  stream(seed: number): () => TrainBatch;
}

export interface TrainOptions {
  cfg: GPT2Config;
  /** Token ids the data draws from (BOS is added to the trained rows). */
  subset: number[];
  /** Repeated random sequences (data.ts), or any other source. */
  data: RepeatSpec | BatchSource;
  steps: number;
  schedule: Omit<Schedule, 'total'>;
  adam?: Partial<AdamOptions>;
  /** Seeds of the initial weights and of the data stream. */
  initSeed: number;
  /** Std of the embeddings at init (GPT-2: 0.02). */
  embedStd?: number;
  dataSeed: number;
}

export interface StepInfo {
  step: number;
  loss: number;
  lr: number;
}

export interface TrainResult {
  /** The full model (cfg's vocabulary; untrained rows of W_E zero). */
  weights: Weights;
  /** The compact model training updated (trainedIds(subset) as its vocabulary). */
  compact: Weights;
  /** The loss of each step, measured on that step's batch before its update. */
  losses: number[];
}

export async function train(
  rt: Runtime,
  o: TrainOptions,
  onStep?: (s: StepInfo) => void,
): Promise<TrainResult> {
  const ids = trainedIds(o.subset);
  const cfg = compactConfig(o.cfg, ids);
  const weights = initWeights(cfg, o.initSeed, { embedStd: o.embedStd });
  const source = 'stream' in o.data ? o.data : repeatSource(o.subset, o.data);
  if (source.pos > o.cfg.nCtx) throw new Error(`train: sequences of ${source.pos} tokens exceed n_ctx ${o.cfg.nCtx}`);
  const next = source.stream(o.dataSeed);
  const adam = new Adam(weights, o.adam);
  const schedule: Schedule = { ...o.schedule, total: o.steps };
  const losses: number[] = [];
  for (let step = 0; step < o.steps; step++) {
    const { loss, grads } = await lossAndGrads(rt, cfg, weights, compactBatch(next(), ids));
    if (!Number.isFinite(loss)) throw new Error(`train: loss is ${loss} at step ${step}`);
    const lr = learningRate(step, schedule);
    adam.step(grads, lr);
    losses.push(loss);
    onStep?.({ step, loss, lr });
  }
  return { weights: expandVocab(weights, ids, o.cfg), compact: weights, losses };
}

function repeatSource(subset: readonly number[], spec: RepeatSpec): BatchSource {
  if (spec.maxHalf < 1 || spec.minHalf < 1) throw new Error('train: segments need at least one token');
  return { pos: sequenceLength(spec), stream: (seed) => trainBatches(subset, spec, seed) };
}
