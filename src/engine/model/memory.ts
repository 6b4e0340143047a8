// Will a model fit? An estimate from its config, checked before its weights go to the device, so that a model too
// big for this machine is refused with the figures rather than crashing the tab halfway through (issue 15 part 3).
//
// What is held: weights are float32 on the host (GPT2Config -> expectedWeightShapes); the runtime's copy is float32
// or float16 (runtime/f16.ts: 2 bytes a weight, plus float32 casts that live during a run). On WebGPU each weight is its own
// GPUBuffer, so the largest one (wte, [d_vocab, d_model]) must fit the adapter's maxBufferSize and
// maxStorageBufferBindingSize, and all of them plus the working set must fit the GPU. On wasm onnxruntime copies the
// weights into its 32-bit heap (at most 4 GiB) for every run. The host keeps its own float32 copy either way.
import { expectedWeightShapes, type GPT2Config } from './types';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** wasm32's address space: onnxruntime-web's heap cannot grow past it. */
export const WASM_HEAP_LIMIT = 4 * GiB;
/** The largest value navigator.deviceMemory reports. */
export const DEVICE_MEMORY_CAP_GIB = 8;

/** How the runtime holds the weights (runtime/f16.ts). */
export type WeightPrecision = 'float32' | 'float16';

export interface ModelMemory {
  parameters: number;
  precision: WeightPrecision;
  /** The runtime's copy of the weights: 4 bytes a parameter in float32, 2 in float16. */
  weightBytes: number;
  /** The host's float32 copy (the worker keeps it: 4 bytes a parameter whatever the precision). */
  hostBytes: number;
  /** The largest single weight tensor (one GPU buffer on WebGPU). */
  largestTensorBytes: number;
  /**
   * Activations, caches and gradients of a typical run (8 pairs x 32 tokens: two forward passes and one backward
   * pass, every hook kept), with a floor of 256 MB for onnxruntime's own arenas; with float16 weights also the
   * float32 casts alive at once (each is made right before its first reader: the token embedding, read at both
   * ends, and one layer's weights). An estimate, not a bound.
   */
  workingBytes: number;
}

/** Limits the browser tells; any of them may be unknown. */
export interface MemoryLimits {
  /** navigator.deviceMemory: the machine's RAM in GiB, rounded down and capped at 8 by the browser. */
  deviceMemoryGiB?: number;
  /** From the WebGPU adapter's limits (WebGPU only). */
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
}

export function modelMemory(cfg: GPT2Config, precision: WeightPrecision = 'float32'): ModelMemory {
  let parameters = 0;
  let largest = 0;
  let layer = 0;
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    parameters += n;
    largest = Math.max(largest, n);
    if (name.startsWith('h.0.')) layer += n;
  }
  const bytes = precision === 'float16' ? 2 : 4;
  // Per token and layer, each run keeps the residual stream and hook outputs (~ 8 d_model + 2 d_mlp floats) and
  // the attention pattern and scores (2 n_heads x tokens); three such runs (clean, corrupted, gradients).
  const tokens = 8 * 32;
  const perLayer = tokens * (8 * cfg.dModel + 2 * cfg.dMlp + 2 * cfg.nHeads * 32) * 4;
  const logits = tokens * cfg.dVocab * 4;
  const casts = precision === 'float16' ? 4 * (cfg.dVocab * cfg.dModel + layer) : 0;
  const working = Math.max(256 * MiB, 3 * (cfg.nLayers * perLayer + logits)) + casts;
  return { parameters, precision, weightBytes: parameters * bytes, hostBytes: parameters * 4, largestTensorBytes: largest * bytes, workingBytes: working };
}

const mb = (bytes: number) => `${Math.round(bytes / MiB).toLocaleString('en-US')} MB`;

/**
 * Null when the model should fit, else a message that names the model, the figure it needs and the limit it
 * passes. A limit the browser does not tell is not checked.
 */
export function memoryShortfall(
  cfg: GPT2Config, backend: 'webgpu' | 'wasm' | 'node-cpu', limits: MemoryLimits, precision: WeightPrecision = 'float32',
): string | null {
  const m = modelMemory(cfg, precision);
  const what = `${cfg.name} (${(m.parameters / 1e6).toFixed(0)}M parameters, ${mb(m.weightBytes)} of ${precision} weights)`;
  if (backend === 'webgpu') {
    const bufferLimit = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
    if (m.largestTensorBytes > bufferLimit) {
      return `${what} does not fit this GPU: its largest weight (the token embedding, ${mb(m.largestTensorBytes)}) is more than the ${mb(bufferLimit)} one GPU buffer may hold here. Try the wasm backend or a smaller model.`;
    }
  }
  if (backend === 'wasm' && m.weightBytes + m.workingBytes > WASM_HEAP_LIMIT) {
    return `${what} does not fit the wasm backend: it needs about ${mb(m.weightBytes + m.workingBytes)} in onnxruntime's heap, which cannot grow past ${mb(WASM_HEAP_LIMIT)}. Try WebGPU or a smaller model.`;
  }
  // deviceMemory is capped (8 in Chrome): 8 means "8 GB or more", so only a smaller figure can refuse.
  if (limits.deviceMemoryGiB !== undefined && limits.deviceMemoryGiB > 0 && limits.deviceMemoryGiB < DEVICE_MEMORY_CAP_GIB) {
    // The host's float32 copy of the weights, the device's (GPU buffers or wasm heap) and the working set.
    const needed = m.hostBytes + m.weightBytes + m.workingBytes;
    const have = limits.deviceMemoryGiB * GiB;
    if (needed > have) {
      return `${what} needs about ${mb(needed)} of memory and this device reports ${limits.deviceMemoryGiB} GB. Try a smaller model.`;
    }
  }
  return null;
}
