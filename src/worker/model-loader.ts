// Fetching a model's files for the worker: pinned hub revisions (streamed with progress, verified by size and
// sha256, then kept in the Cache API), plain HTTP folders, and files from the user's disk.
//
// The cache entry is written only after the bytes passed every check AND parsed as a GPT-2 checkpoint, so an
// interrupted or damaged download leaves nothing behind and the next attempt starts clean.
import { fetchBytes, hubUrl, loadModelFromBytes, loadModelFromUrl, WeightsError, type LoadedModel } from '../engine/model/weights';
import type { LoadProgress, ModelSource } from './protocol';

/** One Cache Storage bucket for every model; entries are keyed by the pinned (immutable) hub URL. */
export const MODEL_CACHE = 'patchwork-models-v1';
const SHA_HEADER = 'x-patchwork-sha256';

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  /** A download that receives nothing for this long fails with a message, and Retry starts afresh (default 30 s). */
  stallTimeoutMs?: number;
}

export interface SourceLoad {
  model: LoadedModel;
  bytes: number;
  fromCache: boolean;
  sha256?: string;
  tofu?: boolean;
  /** URL sources: the origin that served the files. */
  servedFrom?: string;
}

/** Caches can be missing or blocked (private windows, storage policies, insecure origins): never fatal. */
export async function openModelCache(): Promise<Cache | null> {
  try {
    if (typeof caches === 'undefined') return null;
    return await caches.open(MODEL_CACHE);
  } catch {
    return null;
  }
}

export function hubFiles(source: { repo: string; commit: string }): { config: string; weights: string } {
  return { config: hubUrl(source.repo, source.commit, 'config.json'), weights: hubUrl(source.repo, source.commit, 'model.safetensors') };
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function loadSource(source: ModelSource, opts: LoadOptions = {}): Promise<SourceLoad> {
  switch (source.kind) {
    case 'hub':
      return loadHub(source, opts);
    case 'url': {
      const servedFrom = await checkRedirects(source, opts.signal);
      let bytes = 0;
      const model = await loadModelFromUrl(source.baseUrl, {
        name: source.id,
        signal: opts.signal,
        stallTimeoutMs: opts.stallTimeoutMs,
        onProgress: (loaded, total) => {
          bytes = loaded;
          opts.onProgress?.({ phase: 'download', loaded, total });
        },
      });
      return { model, bytes, fromCache: false, servedFrom };
    }
    case 'files': {
      const configText = await source.config.text();
      const weights = await readFile(source.weights, opts);
      opts.onProgress?.({ phase: 'parse', loaded: 0 });
      return { model: loadModelFromBytes(configText, weights, source.id), bytes: weights.length, fromCache: false };
    }
  }
}

/** A URL source's server sent the request to another origin than the one the user confirmed. */
export class CrossOriginRedirect extends Error {
  override readonly name = 'CrossOriginRedirect';
  constructor(readonly from: string, readonly redirectedTo: string) {
    super(`${from} redirects to another origin, ${redirectedTo}: nothing was loaded from it.`);
  }
}

/**
 * Where config.json and model.safetensors of a URL source are really served from (fetch follows redirects; its
 * response.url is the final address). Another origin than the URL's own, or than the one the user confirmed, is
 * refused before anything is downloaded: a link names one host, and the user agreed to that host only (issue 16).
 * Network errors fall through to the loader, which reports them.
 */
async function checkRedirects(source: Extract<ModelSource, { kind: 'url' }>, signal?: AbortSignal): Promise<string> {
  const base = source.baseUrl.replace(/\/+$/, '');
  const own = new URL(base).origin;
  let served = own;
  for (const file of ['config.json', 'model.safetensors']) {
    let final: string;
    try {
      const res = await fetch(`${base}/${file}`, { signal });
      await res.body?.cancel().catch(() => undefined);
      final = res.url || `${base}/${file}`;
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      continue;
    }
    const origin = new URL(final).origin;
    if (origin !== own && origin !== source.allowOrigin) throw new CrossOriginRedirect(own, origin);
    if (origin !== own) served = origin;
  }
  return served;
}

async function readFile(file: File, opts: LoadOptions): Promise<Uint8Array> {
  const out = new Uint8Array(file.size);
  const reader = file.stream().getReader();
  let loaded = 0;
  try {
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new DOMException('Cancelled', 'AbortError');
      const { done, value } = await reader.read();
      if (done) break;
      out.set(value, loaded);
      loaded += value.length;
      opts.onProgress?.({ phase: 'download', loaded, total: file.size });
    }
  } finally {
    reader.releaseLock();
  }
  if (loaded !== file.size) throw new WeightsError(`${file.name} changed while it was read (${loaded} of ${file.size} bytes)`);
  return out;
}

async function loadHub(source: Extract<ModelSource, { kind: 'hub' }>, opts: LoadOptions): Promise<SourceLoad> {
  const { signal, onProgress, stallTimeoutMs } = opts;
  const urls = hubFiles(source);
  const cache = await openModelCache();

  // Second visit: both files from the cache, no network at all.
  const cached = cache ? await fromCache(cache, urls, source, opts) : null;
  if (cached) return cached;

  onProgress?.({ phase: 'config', loaded: 0 });
  const configBytes = await fetchBytes(urls.config, { signal, stallTimeoutMs });
  const bytes = await fetchBytes(urls.weights, { signal, stallTimeoutMs, onProgress: (loaded, total) => onProgress?.({ phase: 'download', loaded, total: total ?? source.size }) });
  if (signal?.aborted) throw signal.reason;
  if (source.size !== undefined && bytes.length !== source.size) {
    throw new WeightsError(`model.safetensors of ${source.repo} is ${bytes.length} bytes, expected ${source.size}: the download is incomplete or damaged. Retry.`);
  }
  onProgress?.({ phase: 'verify', loaded: 0, total: bytes.length });
  const sha = await sha256Hex(bytes);
  if (source.sha256 && sha !== source.sha256) {
    throw new WeightsError(`model.safetensors of ${source.repo} has sha256 ${sha}, expected ${source.sha256}: the download is damaged. Retry.`);
  }
  onProgress?.({ phase: 'parse', loaded: 0 });
  const model = loadModelFromBytes(new TextDecoder().decode(configBytes), bytes, source.id);
  if (cache) {
    onProgress?.({ phase: 'store', loaded: 0 });
    try {
      // config first: the weights entry is what marks a model as cached, so it goes last.
      await cache.put(urls.config, new Response(configBytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/json' } }));
      await cache.put(urls.weights, new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), [SHA_HEADER]: sha },
      }));
    } catch (e) {
      // Quota or policy: the model still loads this time, it just is not remembered.
      console.warn(`could not cache ${source.repo}: ${(e as Error).message}`);
      await cache.delete(urls.weights).catch(() => false);
    }
  }
  return { model, bytes: bytes.length, fromCache: false, sha256: sha, tofu: !source.sha256 };
}

async function fromCache(
  cache: Cache, urls: { config: string; weights: string }, source: Extract<ModelSource, { kind: 'hub' }>, opts: LoadOptions,
): Promise<SourceLoad | null> {
  try {
    const [c, w] = await Promise.all([cache.match(urls.config), cache.match(urls.weights)]);
    if (!c || !w) return null;
    const recorded = w.headers.get(SHA_HEADER) ?? undefined;
    opts.onProgress?.({ phase: 'cache', loaded: 0, total: source.size });
    const bytes = new Uint8Array(await w.arrayBuffer());
    // The entry was verified before it was written; a size check here catches storage corruption cheaply
    // (re-hashing hundreds of MB on every visit would cost seconds).
    const expected = source.size ?? Number(w.headers.get('content-length') ?? NaN);
    const shaOk = !source.sha256 || !recorded || recorded === source.sha256;
    if ((Number.isFinite(expected) && bytes.length !== expected) || !shaOk) {
      await cache.delete(urls.weights);
      return null;
    }
    opts.onProgress?.({ phase: 'parse', loaded: 0 });
    const model = loadModelFromBytes(await c.text(), bytes, source.id);
    return { model, bytes: bytes.length, fromCache: true, sha256: recorded, tofu: !source.sha256 };
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    await cache.delete(urls.weights).catch(() => false);
    return null;
  }
}

/** Whether the weights of a hub revision are in the cache (the page asks this to label the picker). */
export async function isHubCached(source: { repo: string; commit: string }): Promise<boolean> {
  const cache = await openModelCache();
  if (!cache) return false;
  try {
    return (await cache.match(hubFiles(source).weights)) !== undefined;
  } catch {
    return false;
  }
}
