// GPT-2 weights from a Hugging Face layout (config.json + model.safetensors), from bytes or over HTTP.
// Browser-safe: no Node imports here (the folder loader lives in weights-node.ts).

import { parseGPT2Config } from './config';
import { parseSafetensors, type Safetensors } from './safetensors';
import { expectedWeightShapes, type GPT2Config, type Weights } from './types';

export class WeightsError extends Error {
  override readonly name = 'WeightsError';
}

/** A download answered with an HTTP error status. */
export class HttpError extends WeightsError {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** A download that receives nothing for this long fails (a server that stalls mid-body would hang forever). */
export const STALL_TIMEOUT_MS = 30_000;

export interface LoadedModel {
  config: GPT2Config;
  weights: Weights;
}

// Saved by older transformers versions and ignored here: the causal-mask buffers (we build our own mask) and the
// LM head, which GPT-2 ties to wte.weight.
const IGNORED = /^(h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight)$/;
// Names that belong to the transformer itself: one we do not expect means config and checkpoint disagree.
const TRANSFORMER_NAME = /^(wte|wpe|ln_f|h\.\d+)\./;

/** Map checkpoint tensors (keys with or without `transformer.`) to float32 Weights, checking every shape. */
export function weightsFromSafetensors(file: Safetensors, cfg: GPT2Config): Weights {
  const expected = expectedWeightShapes(cfg);
  const keyOf = new Map<string, string>(); // canonical name -> key in the file
  for (const key of file.entries.keys()) {
    const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
    if (IGNORED.test(name)) continue;
    if (!expected.has(name)) {
      if (TRANSFORMER_NAME.test(name)) {
        throw new WeightsError(
          `tensor ${key} is not part of a GPT-2 with n_layer ${cfg.nLayers}; do config.json and model.safetensors ` +
            `come from the same model?`,
        );
      }
      continue; // e.g. a classification head: not ours to run
    }
    const previous = keyOf.get(name);
    if (previous !== undefined) throw new WeightsError(`tensor ${name} appears twice, as ${previous} and ${key}`);
    keyOf.set(name, key);
  }

  const missing = [...expected.keys()].filter((name) => !keyOf.has(name));
  if (missing.length > 0) {
    let message = `missing tensor ${missing[0]}`;
    if (missing.length > 1) {
      const sample = [...file.entries.keys()].slice(0, 3).join(', ');
      message += ` (and ${missing.length - 1} more; the file's tensors begin ${sample || '(none)'})`;
    }
    throw new WeightsError(message);
  }

  const weights: Weights = new Map();
  const nonFinite: string[] = [];
  for (const [name, shape] of expected) {
    const key = keyOf.get(name)!;
    const actual = file.entries.get(key)!.shape;
    if (!sameShape(actual, shape)) {
      throw new WeightsError(
        `tensor ${key} has shape [${actual.join(', ')}], expected [${shape.join(', ')}] for this config`,
      );
    }
    const tensor = file.read(key);
    const bad = countNonFinite(tensor.data);
    if (bad) nonFinite.push(`${key} has ${bad} of ${tensor.data.length}`);
    weights.set(name, tensor);
  }
  // One NaN or Inf poisons every activation downstream of it, so every result would be NaN (issue 16).
  if (nonFinite.length > 0) {
    throw new WeightsError(
      `the checkpoint has non-finite weights (NaN or Inf): ${nonFinite.slice(0, 5).join('; ')}` +
        `${nonFinite.length > 5 ? `; and ${nonFinite.length - 5} more tensors` : ''}. ` +
        'It is damaged or its training diverged: results from it would be NaN.',
    );
  }
  return weights;
}

function countNonFinite(data: Float32Array): string | null {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x - x === 0) continue; // x - x is NaN for NaN and for +-Inf
    if (Number.isNaN(x)) nan++;
    else inf++;
  }
  if (nan + inf === 0) return null;
  return [nan ? `${nan} NaN` : '', inf ? `${inf} Inf` : ''].filter(Boolean).join(' and ');
}

/** `configJson` is config.json's text or its parsed value. */
export function loadModelFromBytes(
  configJson: unknown,
  safetensorsBytes: Uint8Array | ArrayBuffer,
  name: string,
): LoadedModel {
  const json = typeof configJson === 'string' ? parseJson(configJson, `config.json of ${name}`) : configJson;
  const config = parseGPT2Config(json, name);
  return { config, weights: weightsFromSafetensors(parseSafetensors(safetensorsBytes), config) };
}

/** The index file of a checkpoint saved in shards (transformers' save_pretrained with max_shard_size). */
export const SHARD_INDEX = 'model.safetensors.index.json';

/**
 * Parses model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard file}}) and returns the
 * shard files in order of first appearance. Shard names must be plain file names: an index must not point outside
 * its folder (or its URL's folder).
 */
export function parseShardIndex(json: unknown, what: string): { files: string[]; weightMap: Map<string, string> } {
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new WeightsError(`${what} has no weight_map object`);
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string' || !/^[\w.-]+\.safetensors$/.test(file) || file.startsWith('.'))
      throw new WeightsError(`${what} maps ${tensor} to ${JSON.stringify(file)}, which is not a .safetensors file name in the same folder`);
    weightMap.set(tensor, file);
  }
  if (weightMap.size === 0) throw new WeightsError(`${what} lists no tensors`);
  return { files: [...new Set(weightMap.values())], weightMap };
}

/** The shards of one checkpoint as one Safetensors, checked against the index's weight_map. */
export function mergeShards(shards: { file: string; safetensors: Safetensors }[], weightMap: Map<string, string>): Safetensors {
  const owner = new Map<string, { file: string; safetensors: Safetensors }>();
  const entries: Safetensors['entries'] = new Map();
  for (const shard of shards) {
    for (const [name, entry] of shard.safetensors.entries) {
      const listed = weightMap.get(name);
      if (listed !== undefined && listed !== shard.file) throw new WeightsError(`tensor ${name} is in ${shard.file}, but ${SHARD_INDEX} says ${listed}`);
      const first = owner.get(name);
      if (first) throw new WeightsError(`tensor ${name} appears in two shards, ${first.file} and ${shard.file}`);
      owner.set(name, shard);
      entries.set(name, entry);
    }
  }
  for (const [name, file] of weightMap) {
    if (!owner.has(name)) throw new WeightsError(`${SHARD_INDEX} says tensor ${name} is in ${file}, but it is not there`);
  }
  return { metadata: shards[0]?.safetensors.metadata ?? {}, entries, read: (name) => owner.get(name)!.safetensors.read(name) };
}

/** A model saved in shards: config.json, the index's JSON and each shard's bytes (in any order). */
export function loadModelFromShards(
  configJson: unknown,
  indexJson: unknown,
  shards: { file: string; bytes: Uint8Array }[],
  name: string,
): LoadedModel {
  const json = typeof configJson === 'string' ? parseJson(configJson, `config.json of ${name}`) : configJson;
  const config = parseGPT2Config(json, name);
  const index = typeof indexJson === 'string' ? parseJson(indexJson, `${SHARD_INDEX} of ${name}`) : indexJson;
  const { weightMap } = parseShardIndex(index, `${SHARD_INDEX} of ${name}`);
  const parsed = shards.map(({ file, bytes }) => ({ file, safetensors: parseSafetensors(bytes) }));
  return { config, weights: weightsFromSafetensors(mergeShards(parsed, weightMap), config) };
}

/** A file of a Hugging Face hub repository at a pinned commit (pinning keeps shared links reproducible). */
export function hubUrl(repo: string, commit: string, file: string): string {
  return `https://huggingface.co/${repo}/resolve/${commit}/${file}`;
}

export interface LoadFromUrlOptions {
  /** Defaults to the hub repository (owner/name) or the last path segment of baseUrl. */
  name?: string;
  /** Download progress of model.safetensors; totalBytes is undefined when the server does not say. */
  onProgress?: (loadedBytes: number, totalBytes: number | undefined) => void;
  signal?: AbortSignal;
  /** Fail when no response or no body data arrives for this long; default STALL_TIMEOUT_MS. */
  stallTimeoutMs?: number;
}

/** Load `${baseUrl}/config.json` and `${baseUrl}/model.safetensors`, e.g. baseUrl = hubUrl(repo, commit, ''). */
export async function loadModelFromUrl(baseUrl: string, options: LoadFromUrlOptions = {}): Promise<LoadedModel> {
  const { signal, onProgress, stallTimeoutMs } = options;
  const name = options.name ?? modelNameFromUrl(baseUrl);
  const base = baseUrl.replace(/\/+$/, '');
  // config.json first: a model that is not GPT-2 fails before a download of hundreds of megabytes.
  const configUrl = `${base}/config.json`;
  const configText = new TextDecoder().decode(await fetchBytes(configUrl, { signal, stallTimeoutMs }));
  const config = parseGPT2Config(parseJson(configText, `config.json at ${configUrl}`), name);
  let bytes: Uint8Array;
  try {
    bytes = await fetchBytes(`${base}/model.safetensors`, { signal, onProgress, stallTimeoutMs });
  } catch (e) {
    if (!(e instanceof HttpError && e.status === 404)) throw e;
    // No single file: a checkpoint saved in shards has an index instead.
    const index = await fetchBytes(`${base}/${SHARD_INDEX}`, { signal, stallTimeoutMs }).catch(() => null);
    if (!index) throw e;
    const indexJson = parseJson(new TextDecoder().decode(index), `${SHARD_INDEX} at ${base}`);
    const shards: { file: string; bytes: Uint8Array }[] = [];
    let done = 0;
    for (const file of parseShardIndex(indexJson, `${SHARD_INDEX} at ${base}`).files) {
      const shard = await fetchBytes(`${base}/${file}`, { signal, stallTimeoutMs, onProgress: (loaded) => onProgress?.(done + loaded, undefined) });
      done += shard.length;
      shards.push({ file, bytes: shard });
    }
    return loadModelFromShards(configText, indexJson, shards, name);
  }
  return { config, weights: weightsFromSafetensors(parseSafetensors(bytes), config) };
}

/**
 * Download a whole body into one buffer, reporting progress. With a Content-Length the buffer is allocated once,
 * so a large checkpoint never exists twice in memory (chunk list + concatenation would double the peak).
 */
export async function fetchBytes(
  url: string,
  options: Pick<LoadFromUrlOptions, 'onProgress' | 'signal' | 'stallTimeoutMs'> = {},
): Promise<Uint8Array> {
  const { signal, onProgress, stallTimeoutMs = STALL_TIMEOUT_MS } = options;
  if (signal?.aborted) throw signal.reason;
  // Our own controller: the caller's signal aborts it, and so does the stall timer (issue 16: a server that stopped
  // after 64 KiB froze the progress line for good).
  const controller = new AbortController();
  const forward = () => controller.abort(signal!.reason);
  signal?.addEventListener('abort', forward, { once: true });
  let loaded = 0;
  let stalled: WeightsError | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (what: () => string) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = new WeightsError(`${what()}: nothing arrived for ${stallTimeoutMs / 1000} s. The server or the connection stalled; Retry.`);
      controller.abort(stalled);
    }, stallTimeoutMs);
  };
  try {
    let response: Response;
    arm(() => `${url} did not answer`);
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (e) {
      if (stalled) throw stalled;
      if (signal?.aborted) throw signal.reason ?? e;
      throw new WeightsError(`could not download ${url}: ${(e as Error).message}${corsHint(url, e)}`);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {}); // frees the connection; the error page itself is of no use
      const status = [response.status, response.statusText].filter(Boolean).join(' ');
      const hint = response.status === 401 || response.status === 404 ? ' (check the repository, commit and file name)' : '';
      throw new HttpError(`could not download ${url}: HTTP ${status}${hint}`, response.status);
    }

    let total = declaredLength(response);
    if (!response.body) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      onProgress?.(bytes.length, bytes.length);
      return bytes;
    }
    let buffer = allocate(url, total ?? 1 << 20, total !== undefined, controller);
    const reader = response.body.getReader();
    try {
      for (;;) {
        arm(() => `download of ${url} stopped after ${loaded}${total === undefined ? '' : ` of ${total}`} bytes`);
        const { done, value } = await reader.read();
        if (done) break;
        if (loaded + value.length > buffer.length) {
          // Unknown or wrong length (a proxy that compressed the body): grow geometrically and stop claiming a total.
          const grown = allocate(url, Math.max(2 * buffer.length, loaded + value.length), false, controller);
          grown.set(buffer.subarray(0, loaded));
          buffer = grown;
          total = undefined;
        }
        buffer.set(value, loaded);
        loaded += value.length;
        onProgress?.(loaded, total);
      }
    } catch (e) {
      if (stalled) throw stalled;
      if (signal?.aborted) throw signal.reason ?? e;
      if (e instanceof WeightsError) throw e;
      throw new WeightsError(`download of ${url} failed after ${loaded} bytes: ${(e as Error).message}`);
    } finally {
      reader.releaseLock();
    }
    if (total !== undefined && loaded < total) {
      throw new WeightsError(`download of ${url} ended after ${loaded} of ${total} bytes`);
    }
    return loaded === buffer.length ? buffer : buffer.subarray(0, loaded);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }
}

/**
 * A buffer for a download, or a clear message when the length is more than this JavaScript engine can allocate
 * (a server claiming 10^12 bytes gave "Invalid typed array length", issue 16).
 */
function allocate(url: string, size: number, declared: boolean, controller: AbortController): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch {
    controller.abort();
    const what = declared ? `the server says ${url} is ${size} bytes (${formatBytes(size)}, its Content-Length)` : `${url} grew past ${formatBytes(size)}`;
    throw new WeightsError(`${what}, more than this JavaScript engine can hold in memory; GPT-2 Small is 548 MB. Is this the right URL?`);
  }
}

function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  for (; n >= 1000 && i < units.length - 1; i++) n /= 1000;
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/**
 * A browser reports a response without CORS headers only as "Failed to fetch" (a TypeError), the same as no network;
 * for a URL on another origin, say that the server must allow cross-origin requests.
 */
function corsHint(url: string, e: unknown): string {
  const here = (globalThis as { location?: { href: string; origin: string } }).location;
  if (!(e instanceof TypeError) || !here) return '';
  let origin: string;
  try {
    origin = new URL(url, here.href).origin;
  } catch {
    return '';
  }
  if (origin === here.origin) return '';
  return (
    `. Either the network is down, or the server at ${origin} does not allow cross-origin requests: it must answer ` +
    `with an Access-Control-Allow-Origin header that allows ${here.origin} (the Hugging Face hub does)`
  );
}

function declaredLength(response: Response): number | undefined {
  if (response.headers.get('content-encoding')) return undefined; // the length is of the encoded body
  const length = Number(response.headers.get('content-length') ?? NaN);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

function modelNameFromUrl(baseUrl: string): string {
  const hub = /huggingface\.co\/(.+?)\/resolve\//.exec(baseUrl);
  if (hub) return hub[1];
  return baseUrl.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? baseUrl;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WeightsError(`${what} is not valid JSON (${(e as Error).message})`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
