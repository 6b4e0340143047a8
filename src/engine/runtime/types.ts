// What the rest of the engine sees of a runtime. Nothing here imports onnxruntime.
import type { Graph } from '../graph';
import type { Weights } from '../model/types';

export type BackendName = 'node-cpu' | 'webgpu' | 'wasm';

export type Feed =
  | { dtype: 'float32'; shape: readonly number[]; data: Float32Array }
  | { dtype: 'int64'; shape: readonly number[]; data: BigInt64Array }
  | { dtype: 'bool'; shape: readonly number[]; data: Uint8Array };

/** An int64 feed (token ids, indices) from plain numbers. */
export function int64Feed(values: readonly number[], shape: readonly number[]): Feed {
  return { dtype: 'int64', shape, data: BigInt64Array.from(values, BigInt) };
}

export interface Fetched {
  shape: number[];
  data: Float32Array;
}

/**
 * An output left where the runtime computed it (WebGPU: a GPU buffer) to feed later runs without a round trip
 * through the host. Opaque; its owner disposes it when it is no longer fed (a dropped cache).
 */
export interface DeviceTensor {
  readonly shape: readonly number[];
  /** onnxruntime's location: 'gpu-buffer' on WebGPU, 'cpu' on CPU backends (where keeping only skips a copy). */
  readonly location: string;
  /** Where it is host memory (CPU backends): its values, without a copy; undefined on the GPU. */
  readonly host?: Fetched;
  dispose(): void;
}

/** What a run fetched to the host and what it left on the device. */
export interface KeptRun {
  fetched: Record<string, Fetched>;
  kept: Record<string, DeviceTensor>;
}

export interface Runtime {
  readonly backend: BackendName;
  /** onnxruntime sessions created so far (each costs tens to hundreds of ms): tests and benchmarks count them. */
  readonly sessionsCreated: number;
  /** How the held weights are stored: float32, or float16 cast to float32 inside each graph (runtime/f16.ts). */
  readonly weightPrecision?: 'float32' | 'float16';
  /** The precision setWeights would hold a model of this many parameters in (the memory check asks before loading). */
  precisionFor?(parameters: number): 'float32' | 'float16';
  /**
   * Holds the weights once on the device; every later run feeds them to each graph input named after a weight.
   * Calling it again with another Weights object replaces (and frees) the previous ones.
   */
  setWeights(weights: Weights): Promise<void>;
  /**
   * Runs the graph cached under `key` (built with `build` on first use), feeding `feeds` plus the held weights,
   * and returns the graph's float32 outputs by name. Runs are queued one at a time.
   */
  run(key: string, build: () => Graph, feeds: Record<string, Feed>): Promise<Record<string, Fetched>>;
  /**
   * Like run, but the outputs for which `keep(name)` is true stay on the device (DeviceTensors the caller disposes)
   * and `held` DeviceTensors are fed as inputs by name. Optional: a runtime without it has every output fetched.
   */
  runKeeping?(
    key: string, build: () => Graph, feeds: Record<string, Feed>, held: Record<string, DeviceTensor>, keep: (output: string) => boolean,
  ): Promise<KeptRun>;
  /** Counters for tests and benchmarks: bytes of outputs copied to the host, outputs kept, and of those in GPU buffers. */
  readonly transfers?: { bytesReadBack: number; outputsKept: number; outputsOnGpu: number };
  /** Drops cached sessions (e.g. after a model change). */
  clearSessions(): Promise<void>;
  dispose(): Promise<void>;
}
