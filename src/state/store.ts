// The app's reactive state: ids, parameters and status only. Arrays live in results.ts.
import { create } from 'zustand';
import type { GPT2Config } from '../engine/model/types';
import type { Method } from '../engine/patching/estimators';
import type { InputIssue } from '../engine/patching/experiment';
import type { ExperimentSpec, Family } from '../engine/patching/types';
import type { BackendName } from '../engine/runtime/types';
import type { BackendChoice, LoadPhase } from '../worker/protocol';
import type { ModelChoice } from './models';
import type { AttentionMode, EstimatorChoice, PermalinkState } from './permalink';

export type ViewTab = PermalinkState['view']['tab'];

export interface LoadState {
  phase: LoadPhase;
  loaded: number;
  total?: number;
  /** Bytes per second over the last second or so. */
  speed?: number;
}

export interface ModelState {
  choice: ModelChoice;
  status: 'idle' | 'loading' | 'ready' | 'error';
  progress: LoadState | null;
  error: string | null;
  config: GPT2Config | null;
  /** Token ids the model was trained on, for toy models trained on a subset (their vocab_subset.json). */
  trainedVocab: number[] | null;
  fromCache: boolean;
  /** modelKey of the model the worker holds (null while it holds none); results carry the key they were computed on. */
  loadedKey: string | null;
  /** A load that failed while the previous model stayed loaded: Retry loads this. */
  failed: ModelChoice | null;
  /** URL models: the origin that served the files (after a redirect the user confirmed, not the URL's own). */
  servedFrom: string | null;
}

export interface RunState {
  id: number | null;
  status: 'idle' | 'running' | 'done' | 'error';
  error: string | null;
  /** Bumped whenever patched values of the current run change, so views re-read the cache. */
  version: number;
}

export interface SweepState {
  label: string;
  done: number;
  total: number;
}

export interface Selection {
  family: Family;
  index: number[];
}

/** The link's view with its optional fields filled in. */
export type ViewState = PermalinkState['view'] & { attentionMode: AttentionMode; perPosition: boolean };

export const DEFAULT_VIEW: ViewState = {
  tab: 'residual', family: 'resid_pre', normalised: false, attentionMode: 'pair', perPosition: false,
};

export interface AppState {
  /** `threads`: onnxruntime's wasm threads (null until the engine starts); `isolated`: crossOriginIsolated. */
  backend: { choice: BackendChoice; active: BackendName | null; webgpu: boolean | null; forced: boolean; threads: number | null; isolated: boolean | null };
  model: ModelState;
  spec: ExperimentSpec;
  presetId: string | null;
  issues: InputIssue[];
  run: RunState;
  view: ViewState;
  selected: Selection | null;
  /** Cell patch in flight: "family:index". */
  pendingCell: string | null;
  cellError: string | null;
  sweep: SweepState | null;
  /** Banner messages: device lost, link problems, ... */
  notice: { kind: 'info' | 'error'; text: string } | null;
  /** A link that names a model by URL waits here until the user confirms. */
  pendingLink: PermalinkState | null;
  /** A URL model whose server redirected to another origin waits here until the user confirms that origin. */
  pendingRedirect: { choice: Extract<ModelChoice, { kind: 'url' }>; from: string; to: string } | null;
  cached: Record<string, boolean>;
  /** The estimator the next Run computes (issue 12); each result records its own. */
  estimator: EstimatorChoice;
  /** Another estimator being computed for the scatter tab: its key (estimatorKey). */
  estimating: string | null;
  estimateError: string | null;
  /** "Verify top K" in flight. */
  verify: SweepState | null;
  /** Summary lines of the last "Verify top K" of the run on screen (numbers stay in the results cache). */
  verified: { runId: number; lines: VerifiedLine[]; error?: string } | null;
}

/** One family's "Verify top K": K + R cells (small), the numbers the summary line is made of. */
export interface VerifiedLine {
  family: Family;
  method: Method;
  k: number;
  recall?: number;
  cells: { estimate: number; exact: number; top: boolean }[];
}

export const DEFAULT_ESTIMATOR: EstimatorChoice = { method: 'atp', steps: 1 };

export const DEFAULT_SPEC: ExperimentSpec = {
  pairs: [{ clean: '', corrupted: '', answer: '', wrong: '' }],
  metric: { name: 'logit_diff' },
  direction: 'denoising',
  options: { freezeLayerNorm: false, freezeAttention: false },
  prependBos: true,
};

export const useStore = create<AppState>(() => ({
  backend: { choice: 'auto', active: null, webgpu: null, forced: false, threads: null, isolated: null },
  model: {
    choice: { kind: 'builtin', id: 'toy-induction' },
    status: 'idle',
    progress: null,
    error: null,
    config: null,
    trainedVocab: null,
    fromCache: false,
    loadedKey: null,
    failed: null,
    servedFrom: null,
  },
  spec: DEFAULT_SPEC,
  presetId: null,
  issues: [],
  run: { id: null, status: 'idle', error: null, version: 0 },
  view: DEFAULT_VIEW,
  selected: null,
  pendingCell: null,
  cellError: null,
  sweep: null,
  notice: null,
  pendingLink: null,
  pendingRedirect: null,
  cached: {},
  estimator: DEFAULT_ESTIMATOR,
  estimating: null,
  estimateError: null,
  verify: null,
  verified: null,
}));

export const getState = useStore.getState;
export const setState = useStore.setState;
