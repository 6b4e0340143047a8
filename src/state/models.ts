// The built-in models. Hub models are pinned to a commit, so a shared link always means the same weights, and carry
// the size and sha256 of model.safetensors, checked before anything is cached.
//
// Pins: gpt2 from the project brief; distilgpt2 and gpt2-medium from several public manifests that record
// the hub's LFS sha256 of those exact revisions (see the report of issue #4).
import { knownHubConfig } from '../engine/model/config';
import { modelMemory } from '../engine/model/memory';
import type { GPT2Config } from '../engine/model/types';
import type { BuiltinModelId } from './permalink';
import type { ModelSource } from '../worker/protocol';

/** Which presets suit a model: GPT-2's own, or those of one of the bundled toy models. */
export type PresetKind = 'gpt2' | 'toy' | 'toy-ioi';

export interface BuiltinModel {
  id: BuiltinModelId;
  label: string;
  /** One line for the picker. */
  note: string;
  /**
   * Hub revision; absent for the bundled offline model. sha256 and size absent: not pinned (the revision is a
   * branch and the hash seen at the first download is recorded: trust on first use).
   */
  hub?: { repo: string; commit: string; sha256?: string; size?: number };
  /** Which preset family suits the model. */
  presets: PresetKind;
}

export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  {
    id: 'toy-induction',
    label: 'Toy induction (offline)',
    note: '2 layers, 4 heads, d_model 64; ships with the app, trained on repeated word sequences: a previous-token head in layer 0, an induction head in layer 1',
    presets: 'toy',
  },
  {
    id: 'toy-ioi',
    label: 'Toy IOI (offline)',
    note: '3 layers, 4 heads, d_model 64; ships with the app, trained on templated indirect-object sentences with 48 names',
    presets: 'toy-ioi',
  },
  {
    id: 'gpt2',
    label: 'GPT-2 Small',
    note: 'openai-community/gpt2, 12 layers x 12 heads, 548 MB download',
    hub: {
      repo: 'openai-community/gpt2',
      commit: '607a30d783dfa663caf39e06633721c8d4cfcd7e',
      sha256: '248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707',
      size: 548_105_171,
    },
    presets: 'gpt2',
  },
  {
    id: 'distilgpt2',
    label: 'distilgpt2',
    note: 'distilbert/distilgpt2, 6 layers x 12 heads, 353 MB download',
    hub: {
      repo: 'distilbert/distilgpt2',
      commit: '2290a62682d06624634c1f46a6ad5be0f47f38aa',
      sha256: 'e1ff18884359fe8beb795a5f414feb85a6ce3d929ad019c0d958c039d2b94a1b',
      size: 352_824_413,
    },
    presets: 'gpt2',
  },
  {
    id: 'gpt2-medium',
    label: 'GPT-2 Medium',
    note: 'openai-community/gpt2-medium, 24 layers x 16 heads, 1.52 GB download',
    hub: {
      repo: 'openai-community/gpt2-medium',
      commit: '6dcaa7a952f72f9298047fd5137cd6e4f05f41da',
      sha256: 'fc5a354a19255ad494f3d71549390baca1ccf61d1d822b9408971705c687c9cd',
      size: 1_519_984_962,
    },
    presets: 'gpt2',
  },
  // Not pinned: the hub is unreachable from the machines this was built on, so no commit or sha256 could be
  // checked; a user's browser downloads `main` and records the hash it saw (tofu). Loadable on WebGPU, in float16
  // where the GPU has shader-f16 (runtime/f16.ts); refused before the download where memory is short.
  {
    id: 'gpt2-large',
    label: 'GPT-2 Large',
    note: 'openai-community/gpt2-large, 36 layers x 20 heads, 774M parameters (3.1 GB float32, 1.5 GB float16); WebGPU only',
    hub: { repo: 'openai-community/gpt2-large', commit: 'main' },
    presets: 'gpt2',
  },
  {
    id: 'gpt2-xl',
    label: 'GPT-2 XL',
    note: 'openai-community/gpt2-xl, 48 layers x 25 heads, 1.56B parameters (6.2 GB float32, 3.1 GB float16); WebGPU only',
    hub: { repo: 'openai-community/gpt2-xl', commit: 'main' },
    presets: 'gpt2',
  },
];

/** A hub model's config, known before its download (engine/model/config.ts), or null. */
export function builtinConfig(id: BuiltinModelId): GPT2Config | null {
  const hub = builtin(id).hub;
  return hub ? knownHubConfig(hub.repo, id) ?? null : null;
}

/** The weights' sizes for the picker, float32 and float16, e.g. "3.1 GB f32 · 1.5 GB f16"; null if unknown. */
export function weightSizes(id: BuiltinModelId): string | null {
  const cfg = builtinConfig(id);
  if (!cfg) return null;
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  return `${gb(modelMemory(cfg).weightBytes)} f32 · ${gb(modelMemory(cfg, 'float16').weightBytes)} f16`;
}

export const DEFAULT_MODEL: BuiltinModelId = 'toy-induction';

export function builtin(id: BuiltinModelId): BuiltinModel {
  return BUILTIN_MODELS.find((m) => m.id === id)!;
}

/** What the app has loaded or is loading. 'local' models (from disk) cannot travel in a link. */
export type ModelChoice =
  | { kind: 'builtin'; id: BuiltinModelId }
  /** `allowOrigin`: another origin the URL's server redirects to, which the user confirmed. */
  | { kind: 'url'; url: string; allowOrigin?: string }
  | { kind: 'local'; name: string; config: File; weights: File };

export function modelKey(m: ModelChoice): string {
  return m.kind === 'builtin' ? m.id : m.kind === 'url' ? `url:${m.url}` : `local:${m.name}`;
}

export function modelLabel(m: ModelChoice): string {
  if (m.kind === 'builtin') return builtin(m.id).label;
  if (m.kind === 'url') return m.url;
  return `${m.name} (local files)`;
}

export function presetKind(m: ModelChoice): PresetKind {
  return m.kind === 'builtin' ? builtin(m.id).presets : 'gpt2';
}

export function bundledModelUrl(id: string): string {
  return new URL(`${import.meta.env.BASE_URL}models/${id}/`, location.href).href;
}

export function sourceFor(m: ModelChoice): ModelSource {
  if (m.kind === 'builtin') {
    const b = builtin(m.id);
    return b.hub ? { kind: 'hub', id: b.id, ...b.hub } : { kind: 'url', id: b.id, baseUrl: bundledModelUrl(b.id) };
  }
  if (m.kind === 'url') return { kind: 'url', id: nameFromUrl(m.url), baseUrl: m.url, ...(m.allowOrigin ? { allowOrigin: m.allowOrigin } : {}) };
  return { kind: 'files', id: m.name, config: m.config, weights: m.weights };
}

/**
 * The vocab_subset.json of a bundled toy model (the token ids it was trained on), unparsed, or null for models
 * trained on the whole vocabulary or when it cannot be read: the marking it feeds is a help, not a gate. Fetched
 * while the model loads; parseVocabSubset checks it once the model's vocabulary size is known.
 */
export async function fetchVocabSubset(m: ModelChoice): Promise<unknown> {
  if (m.kind !== 'builtin' || builtin(m.id).hub) return null;
  try {
    const res = await fetch(`${bundledModelUrl(m.id)}vocab_subset.json`);
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

/** A JSON list of distinct token ids in [0, dVocab), or null. */
export function parseVocabSubset(json: unknown, dVocab: number): number[] | null {
  if (!Array.isArray(json) || json.length === 0) return null;
  if (!json.every((x) => Number.isInteger(x) && x >= 0 && x < dVocab)) return null;
  return new Set(json).size === json.length ? (json as number[]) : null;
}

function nameFromUrl(url: string): string {
  return url.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? 'custom';
}

const LAST_MODEL_KEY = 'patchwork.lastModel';

/** localStorage can throw (blocked storage, quota): remembering is best effort. */
export function rememberModel(id: BuiltinModelId): void {
  try {
    localStorage.setItem(LAST_MODEL_KEY, id);
  } catch {
    /* storage blocked */
  }
}

export function rememberedModel(): BuiltinModelId | null {
  try {
    const v = localStorage.getItem(LAST_MODEL_KEY);
    return BUILTIN_MODELS.some((m) => m.id === v) ? (v as BuiltinModelId) : null;
  } catch {
    return null;
  }
}
