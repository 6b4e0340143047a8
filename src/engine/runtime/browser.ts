// Browser entry for the runtime: imports onnxruntime-web's WebGPU build (which also carries the wasm provider) and
// points it at the wasm binary Vite emits. Meant for the engine worker; only engine/runtime may import onnxruntime.
//
// The WebGPU bundle loads ort-wasm-simd-threaded.asyncify.wasm (checked in dist/ort.webgpu.bundle.min.mjs); `?url`
// makes Vite copy it into the build and give us its hashed URL, so nothing is fetched from a CDN.
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import type { MemoryLimits } from '../model/memory';
import type { OrtModule } from './ort-runtime';
import type { Runtime } from './types';
import { createWebRuntime, wasmThreads, webgpuAvailable, type WebBackendChoice } from './web';

export { OutOfMemoryError } from './web';
export type { WebBackendChoice };

export interface BrowserRuntimeOptions {
  backend?: WebBackendChoice;
  onDeviceLost?: (message: string) => void;
  /** A `?threads=N` override as typed (checked by wasmThreads); null or absent: all cores up to 8 when isolated. */
  threads?: string | null;
}

/** The wasm threads onnxruntime was given, and why an override was not used as typed. */
export interface ThreadsInfo {
  threads: number;
  isolated: boolean;
  warning?: string;
}

let ortModule: Promise<OrtModule> | null = null;

function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-web/webgpu').then((m) => {
    const ort = ((m as { default?: unknown }).default ?? m) as OrtModule;
    ort.env.wasm.wasmPaths = { wasm: wasmUrl };
    ort.env.logLevel = 'error';
    return ort;
  });
  return ortModule;
}

/**
 * What the browser tells of its memory: navigator.deviceMemory and, on WebGPU, the limits of onnxruntime's device
 * (each weight is one GPU buffer). Read by engine/model/memory.ts's check before a model goes to the device.
 */
export async function browserMemoryLimits(backend: string): Promise<MemoryLimits> {
  const deviceMemoryGiB = (globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory;
  if (backend !== 'webgpu' || !ortModule) return { deviceMemoryGiB };
  try {
    const device = (await (await ortModule).env.webgpu.device) as unknown as { limits?: { maxBufferSize: number; maxStorageBufferBindingSize: number } };
    return { deviceMemoryGiB, maxBufferSize: device.limits?.maxBufferSize, maxStorageBufferBindingSize: device.limits?.maxStorageBufferBindingSize };
  } catch {
    return { deviceMemoryGiB };
  }
}

/** A runtime on WebGPU when asked or available ('auto'), else wasm; see web.ts for the fallback rules. */
export async function createBrowserRuntime(opts: BrowserRuntimeOptions = {}): Promise<{ runtime: Runtime; threads: ThreadsInfo }> {
  const ort = await loadOrt();
  // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page (README, Deploying). Read once, when
  // onnxruntime starts its wasm module: a later change has no effect.
  const isolated = globalThis.crossOriginIsolated === true;
  const t = wasmThreads(opts.threads ?? null, isolated, globalThis.navigator?.hardwareConcurrency);
  ort.env.wasm.numThreads = t.threads;
  const runtime = await createWebRuntime(ort, { backend: opts.backend ?? 'auto', onDeviceLost: opts.onDeviceLost });
  return { runtime, threads: { threads: t.threads, isolated, warning: t.warning } };
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
