// The page's side of the engine worker: promises for requests, callbacks for progress, AbortSignals for cancel.
// The worker is a module worker, so it code-splits and imports onnxruntime-web lazily.
import type { AttributionMode } from '../engine/patching/attribution';
import type { PairRecord } from '../engine/patching/dataset';
import type { Method } from '../engine/patching/estimators';
import type { ExperimentSpec, Family } from '../engine/patching/types';
import {
  WorkerError, type BackendChoice, type CellRef, type EdgeRef, type LoadProgress, type ModelSource, type ProgressOf, type Request,
  type ResultOf, type VerifyRequest, type WorkerMessage,
} from './protocol';

/** The `patched` field of a request: absent when no cells are patched on top, so plain requests stay as they were. */
const onTop = (patched?: CellRef[]) => (patched?.length ? { patched } : {});

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: ProgressOf) => void;
}

export interface CallOptions<P> {
  onProgress?: (p: P) => void;
  signal?: AbortSignal;
}

export class EngineClient {
  private readonly worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();

  /** `onDeviceLost` is called when the worker's GPU device goes away; the caller replaces this client. */
  constructor(private readonly events: { onDeviceLost?: (message: string) => void; onCrash?: (message: string) => void } = {}) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'patchwork-engine' });
    w.onmessage = (ev: MessageEvent<WorkerMessage>) => this.receive(ev.data);
    w.onerror = (ev) => {
      const message = ev.message || 'the engine worker failed to start';
      this.failAll(new Error(message));
      this.events.onCrash?.(message);
    };
    return w;
  }

  private receive(m: WorkerMessage) {
    if (m.kind === 'deviceLost') {
      this.events.onDeviceLost?.(m.message);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') {
      p.onProgress?.(m.progress);
      return;
    }
    this.pending.delete(m.id);
    if (m.kind === 'result') p.resolve(m.value);
    else p.reject(new WorkerError(m.error));
  }

  private failAll(e: Error) {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private call<T extends Request['type']>(
    req: Extract<Request, { type: T }>, opts: CallOptions<ProgressOf> = {},
  ): Promise<ResultOf[T]> {
    const id = this.nextId++;
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(new DOMException('Cancelled.', 'AbortError'));
    return new Promise<ResultOf[T]>((resolve, reject) => {
      const onAbort = () => this.worker.postMessage({ id: this.nextId++, type: 'cancel', target: id });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v as ResultOf[T]);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        onProgress: opts.onProgress,
      });
      this.worker.postMessage({ id, ...req });
    });
  }

  init(backend: BackendChoice, threads?: string | null): Promise<ResultOf['init']> {
    return this.call({ type: 'init', backend, threads });
  }

  /** Loads `source` as the model called `key` (the key later requests name). */
  load(source: ModelSource, key: string, opts: CallOptions<LoadProgress> = {}): Promise<ResultOf['load']> {
    return this.call({ type: 'load', source, key }, opts as CallOptions<ProgressOf>);
  }

  /** Tests only: onnxruntime sessions the worker has created. */
  sessionsCreated(): Promise<number> {
    return this.call({ type: 'sessionsCreated' });
  }

  /** Tests only: bytes read back and outputs kept on the device (Runtime.transfers). */
  transfers(): Promise<ResultOf['transfers']> {
    return this.call({ type: 'transfers' });
  }

  /** The key of the model the worker holds, or null. */
  loaded(): Promise<string | null> {
    return this.call({ type: 'loaded' });
  }

  attribute(
    model: string, spec: ExperimentSpec, families: Family[], mode: AttributionMode = 'patch', signal?: AbortSignal,
    estimator?: { method: Method; steps: number }, patched?: CellRef[],
  ): Promise<ResultOf['attribute']> {
    return this.call({ type: 'attribute', model, spec, families, mode, ...estimator, ...onTop(patched) }, { signal });
  }

  /** A dataset run: per-pair attribution in batches, mean and sem; progress counts pairs, the signal cancels between batches. */
  attributePairs(
    model: string, spec: ExperimentSpec, records: PairRecord[], families: Family[], opts: CallOptions<{ done: number; total: number }> & { maxPairs?: number } = {},
  ): Promise<ResultOf['attributePairs']> {
    return this.call({ type: 'attributePairs', model, spec, records, families, maxPairs: opts.maxPairs }, opts as CallOptions<ProgressOf>);
  }

  /** Verify top K of one family's estimate: exact patches of its top K cells and some random others. */
  verify(
    model: string, spec: ExperimentSpec, req: VerifyRequest, opts: CallOptions<{ done: number; total: number }> = {}, patched?: CellRef[],
  ): Promise<ResultOf['verify']> {
    return this.call({ type: 'verify', model, spec, ...req, ...onTop(patched) }, opts as CallOptions<ProgressOf>);
  }

  /** Exact patch of one cell; with `patched`, on the base run with those cells already patched. */
  patch(model: string, spec: ExperimentSpec, family: Family, index: number[], patched?: CellRef[]): Promise<number> {
    return this.call({ type: 'patch', model, spec, family, index, ...onTop(patched) });
  }

  patchCells(
    model: string, spec: ExperimentSpec, family: Family, indices: number[][], opts: CallOptions<{ done: number; total: number }> = {},
    patched?: CellRef[],
  ): Promise<Float64Array> {
    return this.call({ type: 'patchCells', model, spec, family, indices, ...onTop(patched) }, opts as CallOptions<ProgressOf>);
  }

  /** Edge attribution of every edge, with the model's edge layout. */
  edgeScores(model: string, spec: ExperimentSpec, signal?: AbortSignal, patched?: CellRef[]): Promise<ResultOf['edgeScores']> {
    return this.call({ type: 'edgeScores', model, spec, ...onTop(patched) }, { signal });
  }

  /** Exact direct path patch of each edge alone. */
  pathPatch(
    model: string, spec: ExperimentSpec, edges: EdgeRef[], opts: CallOptions<{ done: number; total: number }> = {}, patched?: CellRef[],
  ): Promise<Float64Array> {
    return this.call({ type: 'pathPatch', model, spec, edges, ...onTop(patched) }, opts as CallOptions<ProgressOf>);
  }

  /** Exact circuit evaluation: metric and faithfulness of each edge set. */
  evaluateCircuits(
    model: string, spec: ExperimentSpec, circuits: EdgeRef[][], opts: CallOptions<{ done: number; total: number }> = {}, patched?: CellRef[],
  ): Promise<ResultOf['evaluateCircuits']> {
    return this.call({ type: 'evaluateCircuits', model, spec, circuits, ...onTop(patched) }, opts as CallOptions<ProgressOf>);
  }

  /** The exact patch of a set of cells together. */
  jointPatch(model: string, spec: ExperimentSpec, cells: CellRef[], signal?: AbortSignal, patched?: CellRef[]): Promise<number> {
    return this.call({ type: 'jointPatch', model, spec, cells, ...onTop(patched) }, { signal });
  }

  /** Top-5 next tokens, direct logit attribution and the logit lens of a spec (issue 14). */
  inspect(model: string, spec: ExperimentSpec, lensPair = 0, signal?: AbortSignal): Promise<ResultOf['inspect']> {
    return this.call({ type: 'inspect', model, spec, lensPair }, { signal });
  }

  /** One head's raw attention pattern on a pair's clean and corrupted prompt. */
  pattern(model: string, spec: ExperimentSpec, layer: number, head: number, pair = 0): Promise<ResultOf['pattern']> {
    return this.call({ type: 'pattern', model, spec, layer, head, pair });
  }

  /** Tests only: makes the worker lose its GPU device (resolves false on wasm). */
  debugLoseDevice(): Promise<boolean> {
    return this.call({ type: 'debugLoseDevice' });
  }

  dispose(): void {
    this.worker.terminate();
    this.failAll(new Error('The engine was stopped.'));
  }
}
