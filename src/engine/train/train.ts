// The training loop: the engine computes loss and parameter gradients (trainingGraph), Adam updates the host
// weights in place, and the runtime is handed the updated weights before the next step.

import type { GPT2Config, Weights } from '../model/types';
import type { Runtime } from '../runtime/types';
import { Adam, learningRate, type AdamOptions, type Schedule } from './adam';
import { rowsPerBatch, trainBatches, type RepeatSpec, type TrainBatch } from './data';
import { initWeights } from './init';
import { gradName, trainingGraph } from './loss-graph';

export interface LossAndGrads {
  loss: number;
  grads: Map<string, Float32Array>;
}

const int64 = (xs: number[], shape: number[]) => ({ dtype: 'int64' as const, shape, data: BigInt64Array.from(xs, BigInt) });

/** Loss and the gradient of every weight on one batch, at `weights` (which this hands to the runtime). */
export async function lossAndGrads(rt: Runtime, cfg: GPT2Config, weights: Weights, b: TrainBatch): Promise<LossAndGrads> {
  const n = b.rows.length;
  await rt.setWeights(weights);
  const out = await rt.run(`train-${cfg.name}-${b.batch}x${b.pos}-${n}`, () => trainingGraph(cfg, b.batch, b.pos, n), {
    tokens: int64(b.tokens, [b.batch, b.pos]),
    rows: int64(b.rows, [n]),
    targets: int64(b.targets, [n]),
  });
  const grads = new Map<string, Float32Array>();
  for (const name of weights.keys()) grads.set(name, out[gradName(name)].data);
  return { loss: out.loss.data[0], grads };
}

export interface TrainOptions {
  cfg: GPT2Config;
  /** Token ids the data draws from. */
  subset: number[];
  data: RepeatSpec;
  steps: number;
  schedule: Omit<Schedule, 'total'>;
  adam?: Partial<AdamOptions>;
  /** Seeds of the initial weights and of the data stream. */
  initSeed: number;
  /** Std of the embeddings at init (GPT-2: 0.02). */
  embedStd?: number;
  dataSeed: number;
  /** Start from these weights (updated in place) instead of initWeights(cfg, initSeed). */
  init?: Weights;
}

export interface StepInfo {
  step: number;
  loss: number;
  lr: number;
}

export interface TrainResult {
  weights: Weights;
  /** The loss of each step, measured on that step's batch before its update. */
  losses: number[];
}

export async function train(rt: Runtime, o: TrainOptions, onStep?: (s: StepInfo) => void): Promise<TrainResult> {
  const weights = o.init ?? initWeights(o.cfg, o.initSeed, { embedStd: o.embedStd });
  const maxPos = 2 * o.data.maxHalf + 1;
  if (maxPos > o.cfg.nCtx) throw new Error(`train: sequences of ${maxPos} tokens exceed n_ctx ${o.cfg.nCtx}`);
  if (rowsPerBatch(o.data) === 0) throw new Error('train: a batch scores no rows');
  const next = trainBatches(o.subset, o.data, o.dataSeed);
  const adam = new Adam(weights, o.adam);
  const schedule: Schedule = { ...o.schedule, total: o.steps };
  const losses: number[] = [];
  for (let step = 0; step < o.steps; step++) {
    const { loss, grads } = await lossAndGrads(rt, o.cfg, weights, next());
    if (!Number.isFinite(loss)) throw new Error(`train: loss is ${loss} at step ${step}`);
    const lr = learningRate(step, schedule);
    adam.step(grads, lr);
    losses.push(loss);
    onStep?.({ step, loss, lr });
  }
  return { weights, losses };
}
