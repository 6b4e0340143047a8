// One wrapper over onnxruntime's JS API, shared by onnxruntime-node and onnxruntime-web: sessions created lazily
// and cached by graph key, runs queued one at a time, weights wrapped once and fed to every session.
import type * as Ort from 'onnxruntime-common';
import { toOnnx, type Graph } from '../graph';
import type { Weights } from '../model/types';
import { float16Overflow, float16WeightInputs, toFloat16, type WeightPrecision } from './f16';
import type { BackendName, DeviceTensor, Feed, Fetched, KeptRun, Runtime } from './types';

export type OrtModule = typeof Ort;

export interface OrtRuntimeOptions {
  backend: BackendName;
  sessionOptions: Ort.InferenceSession.SessionOptions;
  /**
   * Wraps host weights as device tensors once (WebGPU: GPU buffers; CPU: the Float32Array itself), as float16
   * bits (toFloat16) when `precision` is float16.
   */
  wrapWeights?: (weights: Weights, precision: WeightPrecision) => Promise<Map<string, Ort.Tensor>>;
  /**
   * How the weights are held (default float32); float16: see f16.ts. 'auto': float16 for models whose float32
   * weights pass `autoFloat16AboveBytes` (default AUTO_FLOAT16_ABOVE_BYTES), float32 below.
   */
  weightPrecision?: WeightPrecision | 'auto';
  autoFloat16AboveBytes?: number;
  /**
   * Sessions kept alive, least recently used released first (default 48: a sweep uses two patch graphs per layer, 24 on GPT-2 Small, plus the attribution and cache graphs; fewer would evict in a cycle). Each session keeps its own activation
   * memory; a sweep touches one graph per (layer, start position) group, and creating a session costs ~40 ms.
   */
  maxSessions?: number;
}

/**
 * 'auto' holds weights as float16 only past 2 GiB of float32 weights: GPT-2 Large and XL (3.1 and 6.2 GB), which
 * float16 makes fit; smaller models keep float32 and so give the same numbers as wasm and the CLI.
 */
export const AUTO_FLOAT16_ABOVE_BYTES = 2 * 2 ** 30;

export class OrtRuntime implements Runtime {
  private sessions = new Map<string, Promise<Ort.InferenceSession>>();
  private weights = new Map<string, Ort.Tensor>();
  private queue: Promise<unknown> = Promise.resolve();
  private created = 0;
  private precision: WeightPrecision = 'float32';
  readonly transfers = { bytesReadBack: 0, outputsKept: 0, outputsOnGpu: 0 };

  constructor(
    private readonly ort: OrtModule,
    private readonly opts: OrtRuntimeOptions,
  ) {}

  get backend(): BackendName {
    return this.opts.backend;
  }

  get sessionsCreated(): number {
    return this.created;
  }

  /** The held weights' precision (float32 until weights are set). */
  get weightPrecision(): WeightPrecision {
    return this.precision;
  }

  precisionFor(parameters: number): WeightPrecision {
    const choice = this.opts.weightPrecision ?? 'float32';
    if (choice !== 'auto') return choice;
    return parameters * 4 > (this.opts.autoFloat16AboveBytes ?? AUTO_FLOAT16_ABOVE_BYTES) ? 'float16' : 'float32';
  }

  async setWeights(weights: Weights): Promise<void> {
    await this.enqueue(async () => {
      for (const t of this.weights.values()) t.dispose?.();
      this.weights.clear();
      const precision = this.precisionFor([...weights.values()].reduce((n, w) => n + w.data.length, 0));
      if (precision === 'float16') checkFloat16(weights);
      if (precision !== this.precision) {
        // Sessions declare the weights' dtype: those of the other precision cannot be fed any more.
        const all = [...this.sessions.values()];
        this.sessions.clear();
        for (const s of all) await (await s.catch(() => null))?.release();
        this.precision = precision;
      }
      this.weights = this.opts.wrapWeights
        ? await this.opts.wrapWeights(weights, precision)
        : new Map([...weights].map(([name, w]) => [name, precision === 'float16'
          ? new this.ort.Tensor('float16', toFloat16(w.data), w.shape)
          : new this.ort.Tensor('float32', w.data, w.shape)]));
    });
  }

  run(key: string, build: () => Graph, feeds: Record<string, Feed>): Promise<Record<string, Fetched>> {
    return this.enqueue(async () => {
      const session = await this.session(key, build);
      const out = await session.run(this.inputs(session, key, feeds, {}));
      const result: Record<string, Fetched> = {};
      for (const [name, t] of Object.entries(out)) result[name] = await this.readBack(t);
      return result;
    });
  }

  /** A session's inputs: device tensors held from earlier runs, then feeds, then the held weights. */
  private inputs(session: Ort.InferenceSession, key: string, feeds: Record<string, Feed>, held: Record<string, DeviceTensor>): Record<string, Ort.Tensor> {
    const inputs: Record<string, Ort.Tensor> = {};
    for (const name of session.inputNames) {
      const f = feeds[name];
      const h = held[name];
      if (h) {
        if (!(h instanceof Kept) || h.disposed) throw new Error(`graph ${key}: the device tensor fed as "${name}" was disposed or is not this runtime's`);
        inputs[name] = h.tensor;
      } else if (f) inputs[name] = new this.ort.Tensor(f.dtype, f.data, f.shape as number[]);
      else {
        const w = this.weights.get(name);
        if (!w) throw new Error(`graph ${key}: no feed or weight for input "${name}"`);
        inputs[name] = w;
      }
    }
    return inputs;
  }

  /** An output copied to host memory (counted in transfers.bytesReadBack). */
  private async readBack(t: Ort.Tensor): Promise<Fetched> {
    const data = (t.location === 'cpu' ? t.data : await t.getData(true)) as Float32Array;
    this.transfers.bytesReadBack += data.byteLength;
    return { shape: [...t.dims], data };
  }

  runKeeping(
    key: string, build: () => Graph, feeds: Record<string, Feed>, held: Record<string, DeviceTensor>, keep: (output: string) => boolean,
  ): Promise<KeptRun> {
    return this.enqueue(async () => {
      // On WebGPU the kept outputs are asked for as GPU buffers when the session is created, so this graph kind has
      // its own sessions; on CPU every output is host memory already and keeping only skips the copy.
      const gpu = this.opts.backend === 'webgpu';
      const session = await this.session(gpu ? `${key}#kept` : key, build, (g) => (gpu
        ? { preferredOutputLocation: Object.fromEntries(g.outputs.filter((t) => keep(t.name)).map((t) => [t.name, 'gpu-buffer' as const])) }
        : {}));
      const out = await session.run(this.inputs(session, key, feeds, held));
      const fetched: Record<string, Fetched> = {};
      const kept: Record<string, DeviceTensor> = {};
      for (const [name, t] of Object.entries(out)) {
        if (keep(name)) {
          kept[name] = new Kept(t);
          this.transfers.outputsKept++;
          if (t.location === 'gpu-buffer') this.transfers.outputsOnGpu++;
          continue;
        }
        fetched[name] = await this.readBack(t);
      }
      return { fetched, kept };
    });
  }

  private async session(
    key: string, build: () => Graph, extra?: (g: Graph) => Ort.InferenceSession.SessionOptions,
  ): Promise<Ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (s) {
      this.sessions.delete(key); // re-insert: most recently used last
      this.sessions.set(key, s);
      return s;
    }
    const max = this.opts.maxSessions ?? 48;
    while (this.sessions.size >= max) {
      const [oldKey, old] = this.sessions.entries().next().value!;
      this.sessions.delete(oldKey);
      await (await old.catch(() => null))?.release();
    }
    const graph = build();
    s = this.ort.InferenceSession.create(this.model(graph), { ...this.opts.sessionOptions, ...extra?.(graph) });
    this.created++;
    this.sessions.set(key, s);
    s.catch(() => this.sessions.delete(key));
    return s;
  }

  /** The graph as ONNX; with float16 weights, those inputs declared float16 and cast inside (f16.ts). */
  private model(graph: Graph): Uint8Array {
    const bytes = toOnnx(graph);
    return this.weightPrecision === 'float16' ? float16WeightInputs(bytes, this.weights.keys()) : bytes;
  }

  async clearSessions(): Promise<void> {
    await this.enqueue(async () => {
      const all = [...this.sessions.values()];
      this.sessions.clear();
      for (const s of all) await (await s.catch(() => null))?.release();
    });
  }

  async dispose(): Promise<void> {
    await this.clearSessions();
    for (const t of this.weights.values()) t.dispose?.();
    this.weights.clear();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** float16 tops out at 65504: a weight beyond it would become Infinity, and every result NaN. */
function checkFloat16(weights: Weights): void {
  for (const [name, w] of weights) {
    const n = float16Overflow(w.data);
    if (n > 0) throw new Error(`${name} has ${n} values beyond float16's range (65504): load this model with float32 weights.`);
  }
}

/** A kept output: the onnxruntime tensor itself (on WebGPU its GPU buffer), fed back as is. */
class Kept implements DeviceTensor {
  disposed = false;
  constructor(readonly tensor: Ort.Tensor) {}
  get shape(): readonly number[] {
    return this.tensor.dims;
  }
  get location(): string {
    return this.tensor.location;
  }
  get host(): Fetched | undefined {
    return !this.disposed && this.tensor.location === 'cpu' ? { shape: [...this.tensor.dims], data: this.tensor.data as Float32Array } : undefined;
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tensor.dispose();
  }
}
