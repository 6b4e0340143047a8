// Browser (and Node wasm) runtime on onnxruntime-web. The caller passes the ort module it imported
// (`onnxruntime-web/webgpu` in the browser, `onnxruntime-web` in Node tests), so this file stays environment-free.
//
// WebGPU: weights are uploaded ONCE into GPUBuffers on the device that onnxruntime's WebGPU provider uses, and the
// same buffers feed every session (ort.Tensor.fromGpuBuffer); see docs/ARCHITECTURE.md "weights once per device".
// wasm: weights are host Float32Arrays fed to every session.
import type * as Ort from 'onnxruntime-common';
import { Graph, Identity, toOnnx } from '../graph';
import type { Weights } from '../model/types';
import { toFloat16, type WeightPrecision } from './f16';
import { OrtRuntime, type OrtModule } from './ort-runtime';
import type { BackendName, Runtime } from './types';

export type WebBackendChoice = 'auto' | 'webgpu' | 'wasm';

export interface WebRuntimeOptions {
  backend?: WebBackendChoice;
  /** Called once if the GPU device is lost; the runtime is unusable afterwards and should be recreated. */
  onDeviceLost?: (message: string) => void;
  /**
   * How the weights are held: 'auto' (default) is, on WebGPU where the device has `shader-f16`, float16 for models
   * past 2 GiB of float32 weights (AUTO_FLOAT16_ABOVE_BYTES: GPT-2 Large and XL), else float32; 'float16' asks for
   * it (on WebGPU without shader-f16 the runtime refuses to start, see weightPrecisionFor); 'float32' never
   * rounds. On wasm float16 is used only when asked.
   */
  weightPrecision?: WeightPrecision | 'auto';
}

export class Float16UnsupportedError extends Error {
  override readonly name = 'Float16UnsupportedError';
}

/**
 * The precision a runtime holds its weights in. WebGPU reads float16 buffers only with the `shader-f16` feature
 * (without it onnxruntime would run the casts elsewhere and copy every weight off the GPU on every run).
 */
export function weightPrecisionFor(
  choice: WeightPrecision | 'auto' | undefined, backend: 'webgpu' | 'wasm', shaderF16: boolean,
): WeightPrecision | 'auto' {
  if (choice === 'float32') return 'float32';
  if (choice === 'float16') {
    if (backend === 'webgpu' && !shaderF16) {
      throw new Float16UnsupportedError("float16 weights need the GPU feature 'shader-f16', which this adapter does not offer. Use float32 weights (and a model that fits them), or the wasm backend.");
    }
    return 'float16';
  }
  return backend === 'webgpu' && shaderF16 ? 'auto' : 'float32';
}

export class OutOfMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfMemoryError';
  }
}

interface GpuLike {
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): { destroy(): void; getMappedRange(): ArrayBuffer; unmap(): void };
  pushErrorScope(f: string): void;
  popErrorScope(): Promise<{ message: string } | null>;
  lost: Promise<{ message: string; reason?: string }>;
  features?: { has(name: string): boolean };
}

/** Most wasm threads used by default: past 8, onnxruntime's per-op thread pool gains little on GPT-2-sized matmuls. */
export const MAX_DEFAULT_WASM_THREADS = 8;

/**
 * onnxruntime-web's wasm threads: all cores up to 8 when the page is cross-origin isolated (threads need
 * SharedArrayBuffer), else 1 (onnxruntime would lower it to 1 itself, with a console warning).
 */
export function defaultWasmThreads(isolated: boolean, hardwareConcurrency: number | undefined): number {
  if (!isolated) return 1;
  const cores = Number.isInteger(hardwareConcurrency) && hardwareConcurrency! > 0 ? hardwareConcurrency! : 1;
  return Math.min(MAX_DEFAULT_WASM_THREADS, cores);
}

/**
 * The threads a `?threads=N` override asks for, checked: a whole number from 1 to the machine's cores, and more
 * than 1 only on an isolated page. Returns the threads to use and, when the request is not used as given, why.
 */
export function wasmThreads(
  requested: string | null, isolated: boolean, hardwareConcurrency: number | undefined,
): { threads: number; warning?: string } {
  const fallback = defaultWasmThreads(isolated, hardwareConcurrency);
  if (requested === null) return { threads: fallback };
  const cores = Number.isInteger(hardwareConcurrency) && hardwareConcurrency! > 0 ? hardwareConcurrency! : 1;
  if (!/^\d+$/.test(requested.trim()) || Number(requested) < 1) {
    return { threads: fallback, warning: `threads=${requested} is not a whole number of at least 1; using ${fallback}.` };
  }
  const n = Number(requested);
  if (n > 1 && !isolated) {
    return { threads: 1, warning: `threads=${n} needs a cross-origin isolated page (see README, Deploying); using 1.` };
  }
  if (n > cores) return { threads: cores, warning: `threads=${n} is more than this machine's ${cores} cores; using ${cores}.` };
  return { threads: n };
}

/** Whether this environment offers a WebGPU adapter at all. */
export async function webgpuAvailable(): Promise<boolean> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Creates a runtime on WebGPU when asked or available ('auto'), else wasm. */
export async function createWebRuntime(ort: OrtModule, opts: WebRuntimeOptions = {}): Promise<Runtime> {
  const choice = opts.backend ?? 'auto';
  if (choice === 'wasm' || (choice === 'auto' && !(await webgpuAvailable()))) return wasmRuntime(ort, opts);
  try {
    return await webgpuRuntime(ort, opts);
  } catch (e) {
    if (choice === 'webgpu' || e instanceof Float16UnsupportedError) throw e;
    console.warn(`WebGPU failed to start (${(e as Error).message}); falling back to wasm`);
    return wasmRuntime(ort, opts);
  }
}

function wasmRuntime(ort: OrtModule, opts: WebRuntimeOptions): Runtime {
  return new OrtRuntime(ort, {
    backend: 'wasm',
    weightPrecision: weightPrecisionFor(opts.weightPrecision, 'wasm', false),
    sessionOptions: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' },
  });
}

async function webgpuRuntime(ort: OrtModule, opts: WebRuntimeOptions): Promise<Runtime> {
  const sessionOptions: Ort.InferenceSession.SessionOptions = { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' };
  // The first WebGPU session creates the provider's device; a one-node graph is enough.
  const g = new Graph('warmup');
  g.output(Identity(g.input('x', [1])), 'y');
  // It is never released: onnxruntime-web destroys its GPUDevice when the last WebGPU session goes, which would
  // kill the shared weight buffers whenever the session cache evicts everything.
  const warm = await ort.InferenceSession.create(toOnnx(g), sessionOptions);
  await warm.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
  const device = (await ort.env.webgpu.device) as unknown as GpuLike;
  const weightPrecision = weightPrecisionFor(opts.weightPrecision, 'webgpu', device.features?.has('shader-f16') ?? false);
  let lost = false;
  device.lost.then((info) => {
    lost = true;
    opts.onDeviceLost?.(info.message || info.reason || 'the GPU device was lost');
  });
  const STORAGE = 0x80;
  const COPY_SRC = 0x04;
  const COPY_DST = 0x08;
  const backend: BackendName = 'webgpu';
  return new OrtRuntime(ort, {
    backend,
    sessionOptions,
    weightPrecision,
    async wrapWeights(weights: Weights, precision: WeightPrecision) {
      if (lost) throw new Error('The GPU device was lost; reload the model to continue.');
      const out = new Map<string, Ort.Tensor>();
      device.pushErrorScope('out-of-memory');
      let bytes = 0;
      for (const [name, w] of weights) {
        const data = precision === 'float16' ? toFloat16(w.data) : w.data;
        const size = Math.ceil(data.byteLength / 16) * 16;
        bytes += size;
        const buf = device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST, mappedAtCreation: true });
        new Uint8Array(buf.getMappedRange(), 0, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        buf.unmap();
        out.set(name, ort.Tensor.fromGpuBuffer(buf as never, { dataType: precision, dims: w.shape, dispose: () => buf.destroy() }));
      }
      const err = await device.popErrorScope();
      if (err) {
        for (const t of out.values()) t.dispose();
        throw new OutOfMemoryError(`The GPU ran out of memory holding ${(bytes / 2 ** 20).toFixed(0)} MB of weights (${err.message}). Try the wasm backend or a smaller model.`);
      }
      return out;
    },
  });
}
