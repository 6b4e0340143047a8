// Node: onnxruntime-node on the CPU with every core.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { OrtRuntime, type OrtModule } from './ort-runtime';
import type { Runtime } from './types';

export function createNodeRuntime(opts: { threads?: number } = {}): Runtime {
  return new OrtRuntime(ort as unknown as OrtModule, {
    backend: 'node-cpu',
    sessionOptions: {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? availableParallelism(),
    },
  });
}
