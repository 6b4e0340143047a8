// A small typed API on window for end-to-end tests and scripts: ask for state instead of scraping pixels.
import type { Family } from '../engine/patching/types';
import { currentRun, exactPatch, loadHubForTesting, simulateDeviceLoss } from '../state/actions';
import { engine } from '../state/actions/shared';
import type { ModelSource } from '../worker/protocol';
import { getState } from '../state/store';
import { runEstimates } from '../state/results';
import { clearRenderErrors, injectRenderError } from './faults';

export interface PlainLabelled {
  axes: string[];
  shape: number[];
  data: (number | null)[];
}

export interface PatchworkTestApi {
  /** True once a model is loaded and the engine is idle enough to take a run. */
  ready(): boolean;
  /** The last run's attribution arrays (and computed activation patches) as plain numbers, plus its metric. */
  lastResult(): {
    runId: number;
    /** The model it was computed on (modelKey). */
    modelKey: string;
    metric: { clean: number; corrupted: number };
    tokens: string[];
    attribution: Record<string, PlainLabelled>;
    patched: Record<string, PlainLabelled>;
    elapsedMs: number;
    /** The run's estimator (issue 12) and every estimator computed for it, by estimatorKey. */
    method: string;
    steps: number;
    estimates: Record<string, Record<string, PlainLabelled>>;
  } | null;
  /** Asks the worker for the exact activation patch of one cell of the last run. */
  patchValue(family: Family, index: number[]): Promise<number>;
  backend(): string | null;
  state(): unknown;
  /** Destroys the WebGPU device as a driver reset would (false on wasm); the app then recovers by itself. */
  loseDevice(): Promise<boolean>;
  /** Loads a hub revision through the worker's download / verify / Cache API path (tests route the hub). */
  loadHub(source: Extract<ModelSource, { kind: 'hub' }>): Promise<{ fromCache: boolean; sha256?: string }>;
  /** Makes one part throw while it renders (`view.attention`, `view.residual`, ...), until clearRenderErrors(). */
  injectRenderError(part: string, message: string): void;
  clearRenderErrors(): void;
  /** onnxruntime sessions the worker has created so far (a prompt of a new length should add none). */
  sessionsCreated(): Promise<number>;
  /** Outputs the worker's runtime read back (bytes) and kept on the device, and its weights' precision. */
  transfers(): Promise<{ bytesReadBack: number; outputsKept: number; outputsOnGpu: number; weightPrecision: string }>;
}

const plain = (l: { axes: string[]; shape: number[]; data: Float64Array }): PlainLabelled => ({
  axes: [...l.axes],
  shape: [...l.shape],
  data: Array.from(l.data, (v) => (Number.isNaN(v) ? null : v)),
});

declare global {
  interface Window {
    patchwork?: PatchworkTestApi;
  }
}

export function installTestApi(): void {
  window.patchwork = {
    ready: () => getState().model.status === 'ready',
    lastResult: () => {
      const r = currentRun();
      if (!r) return null;
      const map = (o: Record<string, { axes: string[]; shape: number[]; data: Float64Array } | undefined>) =>
        Object.fromEntries(Object.entries(o).filter(([, v]) => v).map(([k, v]) => [k, plain(v!)]));
      return {
        runId: r.id, modelKey: r.modelKey, metric: { ...r.metric }, tokens: [...r.tokens], attribution: map(r.attribution), patched: map(r.patched), elapsedMs: r.elapsedMs,
        method: r.method ?? 'atp', steps: r.steps ?? 1,
        estimates: Object.fromEntries(Object.entries(runEstimates(r)).map(([k, v]) => [k, map(v)])),
      };
    },
    patchValue: (family, index) => exactPatch(family, index),
    backend: () => getState().backend.active,
    loseDevice: () => simulateDeviceLoss(),
    loadHub: (source) => loadHubForTesting(source),
    injectRenderError,
    clearRenderErrors,
    sessionsCreated: () => engine().sessionsCreated(),
    transfers: () => engine().transfers(),
    state: () => {
      const s = getState();
      return JSON.parse(JSON.stringify({
        backend: s.backend,
        model: { ...s.model, choice: s.model.choice.kind === 'local' ? { kind: 'local', name: s.model.choice.name } : s.model.choice },
        spec: s.spec,
        presetId: s.presetId,
        issues: s.issues,
        run: s.run,
        view: s.view,
        selected: s.selected,
        estimator: s.estimator,
        pendingCell: s.pendingCell,
        sweep: s.sweep,
        notice: s.notice,
        pendingLink: s.pendingLink,
        pendingRedirect: s.pendingRedirect,
        cached: s.cached,
      }));
    },
  };
}
