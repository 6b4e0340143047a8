// Browser entry for the runtime: imports onnxruntime-web's WebGPU build (which also carries the wasm provider) and
// points it at the wasm binary Vite emits. Meant for the engine worker; only engine/runtime may import onnxruntime.
//
// The WebGPU bundle loads ort-wasm-simd-threaded.asyncify.wasm (checked in dist/ort.webgpu.bundle.min.mjs); `?url`
// makes Vite copy it into the build and give us its hashed URL, so nothing is fetched from a CDN.
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { Graph, Identity, toOnnx } from '../graph';
import type { OrtModule } from './ort-runtime';
import type { Runtime } from './types';
import { createWebRuntime, webgpuAvailable, type WebBackendChoice } from './web';

export { OutOfMemoryError } from './web';
export type { WebBackendChoice };

export interface BrowserRuntimeOptions {
  backend?: WebBackendChoice;
  onDeviceLost?: (message: string) => void;
}

let ortModule: Promise<OrtModule> | null = null;

function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-web/webgpu').then((m) => {
    const ort = ((m as { default?: unknown }).default ?? m) as OrtModule;
    ort.env.wasm.wasmPaths = { wasm: wasmUrl };
    // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page; without it onnxruntime would try and warn.
    ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    ort.env.logLevel = 'error';
    return ort;
  });
  return ortModule;
}

/** A runtime on WebGPU when asked or available ('auto'), else wasm; see web.ts for the fallback rules. */
export async function createBrowserRuntime(opts: BrowserRuntimeOptions = {}): Promise<Runtime> {
  const ort = await loadOrt();
  const backend = opts.backend ?? 'auto';
  if (backend !== 'wasm' && (await webgpuAvailable())) await keepWebGpuDeviceAlive(ort);
  return createWebRuntime(ort, { backend, onDeviceLost: opts.onDeviceLost });
}

let keepAlive: Promise<unknown> | null = null;

/**
 * onnxruntime-web 1.30's WebGPU provider destroys its GPUDevice when the last WebGPU session is released, and
 * web.ts releases its warm-up session right after reading `ort.env.webgpu.device`: the weights would then be
 * uploaded to a dead device (and 'lost' fires with "Device was destroyed."). One tiny session that lives as long
 * as the worker keeps the device, so every later session shares it.
 */
function keepWebGpuDeviceAlive(ort: OrtModule): Promise<unknown> {
  keepAlive ??= (async () => {
    const g = new Graph('keepalive');
    g.output(Identity(g.input('x', [1])), 'y');
    try {
      return await ort.InferenceSession.create(toOnnx(g), { executionProviders: ['webgpu'] });
    } catch {
      return null; // no WebGPU after all: createWebRuntime falls back or reports it
    }
  })();
  return keepAlive;
}

export { webgpuAvailable };

/**
 * Tests only: destroys onnxruntime's GPUDevice, which fires its 'lost' promise exactly as a driver reset or a
 * GPU process crash would. Returns false when no WebGPU device exists.
 */
export async function destroyWebGpuDeviceForTesting(): Promise<boolean> {
  if (!ortModule) return false;
  const ort = await ortModule;
  try {
    const device = (await ort.env.webgpu.device) as unknown as { destroy(): void } | undefined;
    if (!device) return false;
    device.destroy();
    return true;
  } catch {
    return false;
  }
}
