// The typed message protocol between the page and the engine worker.
//
// Every request carries an id; the worker answers with progress messages (zero or more) and then exactly one
// `result` or `error` for that id. `cancel` aborts the request with that id (an AbortController in the worker).
// Float64Arrays travel as transferables, so results cost no copy.
import type { GPT2Config } from '../engine/model/types';
import type { AttributionMode } from '../engine/patching/attribution';
import type { Method } from '../engine/patching/estimators';
import type { Verification } from '../engine/patching/verify';
import type { Inspection } from '../engine/patching/inspect';
import type { InputIssue } from '../engine/patching/experiment';
import type { PairLabelled, PairRecord } from '../engine/patching/dataset';
import type { ExperimentSpec, Family, Labelled } from '../engine/patching/types';
import type { BackendName } from '../engine/runtime/types';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';

/** Where a model's files come from. The page resolves registry entries to one of these. */
export type ModelSource =
  /** A pinned Hugging Face hub revision: streamed, verified (size + sha256) and kept in the Cache API. */
  | {
    kind: 'hub';
    id: string;
    repo: string;
    commit: string;
    /** Known ahead (pinned); absent means trust on first use: the hash seen at the first download is recorded. */
    sha256?: string;
    size?: number;
  }
  /**
   * A Hugging-Face-layout folder over HTTP (the bundled offline model, or a custom URL). A server that redirects to
   * another origin is refused (CrossOriginRedirect) unless that origin is `allowOrigin`, which the user confirmed.
   */
  | { kind: 'url'; id: string; baseUrl: string; allowOrigin?: string }
  /** config.json + model.safetensors picked from the user's disk. */
  | { kind: 'files'; id: string; config: File; weights: File };

export type LoadPhase = 'config' | 'cache' | 'download' | 'verify' | 'store' | 'parse' | 'upload';

export interface LoadProgress {
  phase: LoadPhase;
  loaded: number;
  total?: number;
}

export interface LoadedInfo {
  config: GPT2Config;
  /** Bytes of model.safetensors. */
  bytes: number;
  fromCache: boolean;
  /** sha256 of model.safetensors when it was computed (hub downloads). */
  sha256?: string;
  /** Present when a hash was recorded on first use rather than checked against a pin. */
  tofu?: boolean;
  /** For URL sources: the origin that actually served the files (after redirects). */
  servedFrom?: string;
}

/** Edge attribution of every edge (circuits, issue 11): the layout travels with it (the page holds no graph code). */
export interface EdgeScoresPayload {
  metric: { clean: number; corrupted: number };
  senders: string[];
  receivers: string[];
  /** Per receiver: how many senders (a prefix of `senders`) feed it. */
  upstream: number[];
  /** [sender][receiver], row-major; 0 where there is no edge. */
  edges: Float64Array;
}

/** An edge as indices into the layout's senders and receivers. */
export interface EdgeRef {
  sender: number;
  receiver: number;
}

/** A cell of any family, for joint patches and attribution on top of a patched set. */
export interface CellRef {
  family: Family;
  index: number[];
}

export interface AttributionPayload {
  metric: { clean: number; corrupted: number };
  values: Partial<Record<Family, Labelled>>;
  /** The estimator that computed `values` (issue 12). */
  method: Method;
  steps: number;
}

/**
 * A dataset run (issue 13): plain AtP of every pair in batches of one token length, with each pair's values and
 * metrics, the mean over pairs and its standard error (dataset.ts runBatches). Progress counts pairs.
 */
export interface PairsPayload {
  metric: { clean: number; corrupted: number };
  metricPerPair: { clean: Float64Array; corrupted: Float64Array };
  mean: Partial<Record<Family, Labelled>>;
  perPair: Partial<Record<Family, PairLabelled>>;
  sem: Partial<Record<Family, Labelled>>;
}

/** Verify top K (issue 12): exact patches of the K cells with the largest |estimate| plus `random` others. */
export interface VerifyRequest {
  family: Family;
  /** The estimate the page shows (the run's or another estimator's), same layout as the family. */
  estimate: Labelled;
  k: number;
  random?: number;
  seed?: number;
  /** A full exact sweep of the family, for the recall of the true top K. */
  exact?: Labelled;
}

/**
 * `patched` ("Attribute on top", issue 11): cells already patched in the base run; attribution, exact patches, joint
 * patches, Verify top K, edge scores, path patches and circuits are then all computed on that run.
 *
 * Requests that compute name the model they expect (`model`, the page's model key): the worker refuses when it
 * holds another one, so a result computed on one model is never patched on another.
 */
export type Request =
  /** `threads`: a `?threads=N` override as typed (the worker checks it). */
  | { type: 'init'; backend: BackendChoice; threads?: string | null }
  | { type: 'load'; source: ModelSource; key: string }
  /** The key of the model the worker holds (a failed load may or may not have dropped the previous one). */
  | { type: 'loaded' }
  | { type: 'attribute'; model: string; spec: ExperimentSpec; families: Family[]; mode: AttributionMode; method?: Method; steps?: number; patched?: CellRef[] }
  /** `spec` gives the metric, direction and options; `records` the pairs (dataset.ts PairRecord). */
  | { type: 'attributePairs'; model: string; spec: ExperimentSpec; records: PairRecord[]; families: Family[]; maxPairs?: number }
  | { type: 'patch'; model: string; spec: ExperimentSpec; family: Family; index: number[]; patched?: CellRef[] }
  | { type: 'patchCells'; model: string; spec: ExperimentSpec; family: Family; indices: number[][]; patched?: CellRef[] }
  | { type: 'edgeScores'; model: string; spec: ExperimentSpec; patched?: CellRef[] }
  | { type: 'pathPatch'; model: string; spec: ExperimentSpec; edges: EdgeRef[]; patched?: CellRef[] }
  /** Each circuit is a list of edges; the worker evaluates them exactly (metric and faithfulness per circuit). */
  | { type: 'evaluateCircuits'; model: string; spec: ExperimentSpec; circuits: EdgeRef[][]; patched?: CellRef[] }
  | { type: 'jointPatch'; model: string; spec: ExperimentSpec; cells: CellRef[]; patched?: CellRef[] }
  | ({ type: 'verify'; model: string; spec: ExperimentSpec; patched?: CellRef[] } & VerifyRequest)
  /**
   * Top-5 next tokens, direct logit attribution and the logit lens at the metric position (issue 14; engine
   * inspect.ts); `lensPair` picks the pair the lens reads. Refused for kl (no logit direction to attribute to).
   */
  | { type: 'inspect'; model: string; spec: ExperimentSpec; lensPair?: number }
  /** The raw attention pattern of one head on one pair's clean and corrupted prompt (issue 14). */
  | { type: 'pattern'; model: string; spec: ExperimentSpec; layer: number; head: number; pair?: number }
  | { type: 'cancel'; target: number }
  /** Tests only: lose the GPU device as a driver reset would. */
  | { type: 'debugLoseDevice' }
  /** Tests only: onnxruntime sessions created so far (Runtime.sessionsCreated). */
  | { type: 'sessionsCreated' }
  /** Tests only: outputs read back to the host and kept on the device (Runtime.transfers), and the weights' precision. */
  | { type: 'transfers' };

export interface ResultOf {
  /** `threads`: onnxruntime's wasm threads; `threadsWarning`: why a `?threads=` override was not used as typed. */
  init: { backend: BackendName; webgpu: boolean; threads: number; isolated: boolean; threadsWarning?: string };
  load: LoadedInfo;
  loaded: string | null;
  attribute: AttributionPayload;
  attributePairs: PairsPayload;
  patch: number;
  patchCells: Float64Array;
  edgeScores: EdgeScoresPayload;
  pathPatch: Float64Array;
  evaluateCircuits: { metric: number; faithfulness: number }[];
  jointPatch: number;
  verify: Verification;
  inspect: Inspection;
  pattern: RawPattern;
  cancel: null;
  debugLoseDevice: boolean;
  sessionsCreated: number;
  transfers: { bytesReadBack: number; outputsKept: number; outputsOnGpu: number; weightPrecision: string };
}

/** One head's attention pattern on both prompts: [query_pos][key_pos] row-major, n x n each. */
export interface RawPattern {
  layer: number;
  head: number;
  clean: { n: number; data: Float64Array };
  corrupted: { n: number; data: Float64Array };
}

/** Direct logit attribution needs a logit direction; the KL metric has none (issue 14). */
export const INSPECT_KL_MESSAGE = 'Direct logit attribution and the logit lens need a logit direction (an answer token); the kl metric compares whole distributions and has none. Choose logit_diff (or logprob, prob, logit) to inspect.';

export interface SerializedError {
  /** The error's class name: ExperimentError, OutOfMemoryError, WeightsError, AbortError, ... */
  name: string;
  message: string;
  issues?: InputIssue[];
  /** CrossOriginRedirect: where the server sent the request. */
  redirectedTo?: string;
}

export type ProgressOf = LoadProgress | { done: number; total: number };

export type WorkerMessage =
  | { id: number; kind: 'result'; value: unknown }
  | { id: number; kind: 'error'; error: SerializedError }
  | { id: number; kind: 'progress'; progress: ProgressOf }
  /** Not tied to a request: the GPU device went away; the worker is unusable and must be replaced. */
  | { id: -1; kind: 'deviceLost'; message: string };

export type RequestMessage = { id: number } & Request;

/** An Error rebuilt on the page side from its serialised form; `name` keeps the worker-side class name. */
export class WorkerError extends Error {
  readonly issues?: InputIssue[];
  readonly redirectedTo?: string;
  constructor(e: SerializedError) {
    super(e.message);
    this.name = e.name;
    this.issues = e.issues;
    this.redirectedTo = e.redirectedTo;
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

/** The user-facing text of an error from the worker. Out-of-memory is named as such. */
// How allocation failures read when they do not come as OutOfMemoryError: wasm's heap limit ("Aborted(OOM)"),
// V8's ArrayBuffer allocation, allocators' own words.
const OOM = /out of memory|\bOOM\b|Array buffer allocation failed|Cannot allocate|could not allocate/i;

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.name === 'OutOfMemoryError') return `Out of memory: ${e.message}`;
  if (OOM.test(e.message)) return `Out of memory: ${e.message}. Try a smaller model, fewer or shorter prompts, or the other backend.`;
  if (e.name === 'AbortError') return 'Cancelled.';
  return e.message;
}
