// Node: onnxruntime-node on the CPU with every core.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { WeightPrecision } from './f16';
import { OrtRuntime, type OrtModule } from './ort-runtime';
import type { Runtime } from './types';

/**
 * Threads to use for a request: at most one per core. More threads than cores only adds contention, and a request
 * like 100000 made onnxruntime spawn that many and run for minutes (issue 16). `note` says when it was lowered.
 */
export function boundThreads(requested: number | undefined, cores = availableParallelism()): { threads: number; note?: string } {
  if (requested === undefined) return { threads: cores };
  if (!Number.isSafeInteger(requested) || requested < 1) throw new RangeError(`threads must be a positive whole number, got ${requested}`);
  if (requested <= cores) return { threads: requested };
  return { threads: cores, note: `${requested} threads requested, but this machine has ${cores} cores: using ${cores}` };
}

/** `weightPrecision` float16 holds the weights in half the memory, cast to float32 in each graph (f16.ts). */
export function createNodeRuntime(opts: { threads?: number; weightPrecision?: WeightPrecision } = {}): Runtime {
  return new OrtRuntime(ort as unknown as OrtModule, {
    backend: 'node-cpu',
    weightPrecision: opts.weightPrecision,
    sessionOptions: {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      // Memory patterns are recorded per set of input shapes, and with symbolic sizes every new shape records one:
      // the first runs of each then allocate fresh arena blocks (measured: two runs per patch shape, ~150 MB of
      // page faults each, ~4 s of system time in each of the bench's first two sweeps). Without them the arena
      // is reused from the second run on, at the same steady-state speed.
      enableMemPattern: false,
      intraOpNumThreads: boundThreads(opts.threads).threads,
    },
  });
}
