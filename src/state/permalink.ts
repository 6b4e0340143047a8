// The whole experiment in the URL fragment: `#v1.<base64url(deflate(canonical JSON))>`.
//
// The fragment is untrusted input (anyone can craft a link), so decoding is: size check -> version -> base64url ->
// bounded inflate (zip bombs) -> strict UTF-8 -> JSON.parse -> strict zod schema. Nothing in it is ever evaluated
// or rendered as HTML; strings come back as plain data. A model URL in a link is never fetched without asking the
// user first (needsConfirmation).
import { deflateSync, inflateSync } from 'fflate';
import { z } from 'zod';
import { ESTIMATORS, METHODS, type Method } from '../engine/patching/estimators';
import { FAMILIES as ALL_FAMILIES, type Family } from '../engine/patching/families';
import { isInternalMetric, siteFields } from '../engine/patching/metric-spec';
import type { ExperimentSpec, MetricName, MetricSite } from '../engine/patching/types';

export const PERMALINK_VERSION = 1;
/** Longest fragment accepted (characters after '#'). Real experiments are far below: 8 IOI pairs are ~600. */
export const MAX_FRAGMENT_CHARS = 16 * 1024;
/** Largest decompressed JSON accepted; above any schema-valid state (16 pairs x 2 x 2000 chars, escaped). */
export const MAX_JSON_BYTES = 1024 * 1024;

export const BUILTIN_MODEL_IDS = ['toy-induction', 'toy-ioi', 'gpt2', 'distilgpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] as const;
export const VIEW_TABS = ['residual', 'heads', 'scatter', 'attention', 'circuit', 'inspect', 'neurons'] as const;
/** 'pair': pattern attribution, (clean - corrupted pattern) x grad; 'clean': pattern x grad on the clean prompt only. */
export const ATTENTION_MODES = ['pair', 'clean'] as const;
export const FAMILIES = ALL_FAMILIES as [Family, ...Family[]];
export const MAX_PAIRS = 16;
export const MAX_PROMPT_CHARS = 2000;
const MAX_TOKEN_TEXT_CHARS = 200;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https: anywhere, or http: on this machine (a local model server); no credentials in the URL. */
export function isAllowedModelUrl(s: string): boolean {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
}

const int = (max: number) => z.number().int().min(0).max(max);
const tokenText = z.string().max(MAX_TOKEN_TEXT_CHARS);
const family = z.enum(FAMILIES);

const modelSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('builtin'), id: z.enum(BUILTIN_MODEL_IDS) }),
  z.strictObject({
    kind: z.literal('url'),
    url: z.string().max(2048).refine(isAllowedModelUrl, {
      message: 'only https:// URLs (or http://localhost) can be loaded',
    }),
  }),
]);

/**
 * An internal metric's location in a link (issue 13): exactly the fields the metric reads (metric-spec.ts siteFields),
 * none for a metric on the logits. Whether they fit the model and prompt is checked when the link's run starts,
 * with the engine's messages beside the metric picker.
 */
function checkMetricSite(m: { name: MetricName; site?: Partial<Record<keyof MetricSite, number>> }, ctx: z.RefinementCtx): void {
  if (!isInternalMetric(m.name)) {
    if (m.site) ctx.addIssue({ code: 'custom', path: ['site'], message: `the ${m.name} metric reads the logits and takes no location` });
    return;
  }
  const fields = siteFields(m.name);
  if (!m.site) {
    ctx.addIssue({ code: 'custom', path: ['site'], message: `the ${m.name} metric needs its location (${fields.join(', ')})` });
    return;
  }
  const missing = fields.filter((f) => m.site![f] === undefined);
  const extra = (Object.keys(m.site) as (keyof MetricSite)[]).filter((f) => !fields.includes(f));
  if (missing.length) ctx.addIssue({ code: 'custom', path: ['site'], message: `the ${m.name} metric needs ${missing.join(', ')} (it reads ${fields.join(', ')})` });
  if (extra.length) ctx.addIssue({ code: 'custom', path: ['site'], message: `the ${m.name} metric does not read ${extra.join(', ')} (only ${fields.join(', ')})` });
}

export const experimentSchema = z.strictObject({
  pairs: z.array(z.strictObject({
    clean: z.string().max(MAX_PROMPT_CHARS),
    corrupted: z.string().max(MAX_PROMPT_CHARS),
    answer: tokenText,
    wrong: tokenText,
  })).min(1).max(MAX_PAIRS),
  metric: z.strictObject({
    name: z.enum(['logit_diff', 'logprob', 'prob', 'logit', 'basket', 'mean_logprob', 'kl', 'attn', 'prefix', 'neuron', 'dla']),
    basket: z.array(tokenText).max(64).optional(),
    positions: z.array(int(8192)).max(2048).optional(),
    site: z.strictObject({
      layer: int(1024), head: int(1024).optional(), query: int(8192).optional(), key: int(8192).optional(),
      pos: int(8192).optional(), neuron: int(1 << 20).optional(),
    }).optional(),
  }).superRefine(checkMetricSite),
  direction: z.enum(['denoising', 'noising']),
  options: z.strictObject({ freezeLayerNorm: z.boolean(), freezeAttention: z.boolean() }),
  prependBos: z.boolean(),
});

/** The estimator of the run (issue 12): absent in older links, which mean plain AtP. */
export const estimatorSchema = z.strictObject({
  method: z.enum(METHODS as [Method, ...Method[]], { error: `must be one of ${METHODS.join(', ')}` }),
  steps: z.number().int().min(1).max(256),
}).refine((e) => e.steps === 1 || ESTIMATORS[e.method].steps, {
  message: 'steps must be 1 for an estimator that takes no steps (only ig-inputs and ig-layer do)',
  path: ['steps'],
});

const headRef = z.strictObject({ layer: int(255), head: int(255) });

const SENDER = String.raw`(?:input|a\d{1,3}\.h\d{1,3}|m\d{1,3})`;
const RECEIVER = String.raw`(?:a\d{1,3}\.h\d{1,3}<[qkv]>|m\d{1,3}|logits)`;
/** The Circuit tab's N, selected edge (`a0.h2->a1.h0<k>`) or node (`a0.h2`); checked against the model on opening. */
const circuitView = z.strictObject({
  n: z.number().int().min(1).max(1 << 20),
  edge: z.string().max(64).regex(new RegExp(`^${SENDER}->${RECEIVER}$`), { message: 'must be an edge name such as a0.h2->a1.h0<k>' }).optional(),
  node: z.string().max(32).regex(/^(?:input|a\d{1,3}\.h\d{1,3}|m\d{1,3}|logits)$/, { message: 'must be a node name such as a0.h2, m1, input or logits' }).optional(),
});

/** Most cells in a patch set (state/actions/patch-set.ts MAX_SET). */
export const MAX_PATCH_SET = 16;

/**
 * The patch set (issue 11): its cells, and whether the run is computed on top of them ("Attribute on top"). Indices
 * are checked against the model and prompt when the link's run starts (cells that do not fit are dropped and named).
 */
const patchSetSchema = z.strictObject({
  cells: z.array(z.strictObject({ family, index: z.array(int(1 << 20)).min(1).max(4) })).min(1).max(MAX_PATCH_SET),
  onTop: z.boolean(),
}).refine((s) => new Set(s.cells.map((c) => `${c.family}${c.index.map((i) => `[${i}]`).join('')}`)).size === s.cells.length, {
  message: 'the same cell is listed twice',
  path: ['cells'],
});

export const permalinkSchema = z.strictObject({
  model: modelSchema,
  experiment: experimentSchema,
  view: z.strictObject({
    tab: z.enum(VIEW_TABS),
    family,
    normalised: z.boolean(),
    head: headRef.optional(),
    // Optional so that links made before these existed still open (they mean 'pair' and false).
    attentionMode: z.enum(ATTENTION_MODES, {
      error: 'must be "pair" (clean vs corrupted pattern attribution) or "clean" (clean prompt only)',
    }).optional(),
    /** The heads view's "head output per position" toggle. */
    perPosition: z.boolean().optional(),
    /** The Circuit tab's state (issue 11). */
    circuit: circuitView.optional(),
    /** The pair on screen of a run over several pairs (issue 13); absent = all pairs (mean). */
    pair: int(MAX_PAIRS - 1).optional(),
  }),
  selected: z.strictObject({ family, index: z.array(int(1 << 20)).min(1).max(4) }).optional(),
  estimator: estimatorSchema.optional(),
  patchSet: patchSetSchema.optional(),
});

export type PermalinkState = z.infer<typeof permalinkSchema>;
export type ModelRef = PermalinkState['model'];
export type BuiltinModelId = (typeof BUILTIN_MODEL_IDS)[number];
export type AttentionMode = (typeof ATTENTION_MODES)[number];
export type EstimatorChoice = z.infer<typeof estimatorSchema>;

// Compile-time proof that the schema and the engine's ExperimentSpec describe the same thing, both ways.
const _specFromSchema = (s: z.infer<typeof experimentSchema>): ExperimentSpec => s;
const _schemaFromSpec = (s: ExperimentSpec): z.input<typeof experimentSchema> => s;
void _specFromSchema;
void _schemaFromSpec;

export type DecodeResult = { ok: true; state: PermalinkState } | { ok: false; error: string };

/** JSON with object keys sorted at every level, so equal states give byte-equal links. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_key, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const src = value as Record<string, unknown>;
      return Object.fromEntries(Object.keys(src).sort().map((k) => [k, src[k]]));
    }
    return value;
  });
}

export function bytesToBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** null when `s` is not canonical unpadded base64url. */
export function base64UrlToBytes(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  let bin: string;
  try {
    bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * `#v1.<data>`. Throws if the state is invalid (a programming error: the link would not open) or if the link would
 * be longer than MAX_FRAGMENT_CHARS (the UI should offer the JSON export instead).
 */
export function encodePermalink(state: PermalinkState): string {
  const parsed = permalinkSchema.safeParse(state);
  if (!parsed.success) throw new Error(`Cannot make a link: ${describeIssue(parsed.error.issues[0])}`);
  const json = new TextEncoder().encode(canonicalJson(parsed.data));
  const body = `v${PERMALINK_VERSION}.${bytesToBase64Url(deflateSync(json, { level: 9 }))}`;
  if (body.length > MAX_FRAGMENT_CHARS) {
    throw new Error(`This experiment is too large for a link (${body.length} characters; the limit is ${MAX_FRAGMENT_CHARS})`);
  }
  return `#${body}`;
}

const damaged = (why: string): DecodeResult => ({ ok: false, error: `This link is damaged: ${why}` });

/** Accepts `location.hash` as is (with or without '#'). Never throws. */
export function decodePermalink(fragment: string): DecodeResult {
  let body = fragment.startsWith('#') ? fragment.slice(1) : fragment;
  if (body.length > MAX_FRAGMENT_CHARS * 3) return { ok: false, error: 'This link is too large' }; // before any work
  // Some chat apps and mail clients percent-encode fragments; our alphabet never needs it.
  if (body.includes('%')) {
    try {
      body = decodeURIComponent(body);
    } catch {
      return damaged('it contains a broken %-escape');
    }
  }
  body = body.trim();
  if (body === '') return { ok: false, error: 'This link has no experiment in it' };
  if (body.length > MAX_FRAGMENT_CHARS) {
    return { ok: false, error: `This link is too large (${body.length} characters; the limit is ${MAX_FRAGMENT_CHARS})` };
  }
  const m = /^v(\d{1,6})\.(.*)$/s.exec(body);
  if (!m) return damaged('it does not start with a version such as "v1."');
  const version = Number(m[1]);
  if (version > PERMALINK_VERSION) return { ok: false, error: `This link was made by a newer Patchwork (version v${version})` };
  if (version !== PERMALINK_VERSION) return damaged(`unknown version v${m[1]}`);

  const compressed = base64UrlToBytes(m[2]);
  if (!compressed || compressed.length === 0) return damaged('the data is not valid base64url');

  // Inflate into a fixed buffer one byte larger than the limit: fflate does not grow a caller-given buffer, so a
  // bomb fills it and stops growing; a full buffer means "too large".
  let json: Uint8Array;
  try {
    json = inflateSync(compressed, { out: new Uint8Array(MAX_JSON_BYTES + 1) });
  } catch (e) {
    if (e instanceof RangeError) return { ok: false, error: 'This link is too large: it expands to more than 1 MiB' };
    return damaged('the compressed data is corrupt');
  }
  if (json.length > MAX_JSON_BYTES) return { ok: false, error: 'This link is too large: it expands to more than 1 MiB' };

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    return damaged('the data is not valid UTF-8 text');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return damaged('the data is not valid JSON');
  }
  const parsed = permalinkSchema.safeParse(value);
  if (!parsed.success) return damaged(describeIssue(parsed.error.issues[0]));
  return { ok: true, state: parsed.data };
}

/** A link that names a model by URL makes the browser download from that host: ask before doing it. */
export function needsConfirmation(state: PermalinkState): boolean {
  return state.model.kind === 'url';
}
