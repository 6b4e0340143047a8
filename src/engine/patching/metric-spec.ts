// Metrics on internal activations (issue 13, item 3): their text syntax, the hook each reads, and which hooks are
// upstream of it. Graph-free, so the CLI, the worker and the views share it.
//
// Definitions (b = the run, pattern [batch, head_index, query_pos, key_pos], TransformerLens hook names):
// - attn:L.H:q:k   pattern[b, H, q, k] of blocks.L.attn.hook_pattern (q >= k).
// - prefix:L.H     the prefix-matching score: the mean over query positions i that have at least one key j with
//                  1 <= j <= i and clean[j - 1] == clean[i] of sum over those j of pattern[b, H, i, j] ("average
//                  attention paid to the appropriate token when given repeated random tokens"). The keys come from
//                  each pair's CLEAN prompt and are held fixed in every run, as the answer token is.
// - neuron:L.pos.n blocks.L.mlp.hook_post[b, pos, n].
// - dla:L.H        direct logit attribution of head H: its output at the last position, z[b, -1, H] @ W_O[H] (no
//                  b_O), through ln_final with the scale held at the CLEAN run's ln_final.hook_scale at that position
//                  (TransformerLens apply_ln_to_stack with the clean cache, so that only components before the head
//                  are upstream), centred, dotted with ln_f.weight * (W_U[:, answer] - W_U[:, wrong]) (without a
//                  wrong answer: W_U[:, answer] alone).
// A hook that is the metric's own or computed after it in the forward pass is "not upstream": patching it cannot
// change the metric, and the views say so rather than show 0. Positions do not enter: a later position of an
// upstream hook is a genuine exact 0 by causality.
import type { MetricName, MetricSpec, MetricSite } from './types';
import { hookFor, type Family } from './families';

export const LOGIT_METRICS = ['logit_diff', 'logprob', 'prob', 'logit', 'basket', 'mean_logprob', 'kl'] as const satisfies readonly MetricName[];
export const INTERNAL_METRICS = ['attn', 'prefix', 'neuron', 'dla'] as const satisfies readonly MetricName[];
export type InternalMetricName = (typeof INTERNAL_METRICS)[number];

/** One entry per internal metric: its site fields in text order, the separators before them, and its hook. */
const INTERNAL: Record<InternalMetricName, { fields: (keyof MetricSite)[]; seps: string[]; syntax: string; example: string; hook: string }> = {
  attn: { fields: ['layer', 'head', 'query', 'key'], seps: ['', '.', ':', ':'], syntax: 'attn:LAYER.HEAD:QUERY:KEY', example: 'attn:1.4:10:9', hook: 'attn.hook_pattern' },
  prefix: { fields: ['layer', 'head'], seps: ['', '.'], syntax: 'prefix:LAYER.HEAD', example: 'prefix:5.1', hook: 'attn.hook_pattern' },
  neuron: { fields: ['layer', 'pos', 'neuron'], seps: ['', '.', '.'], syntax: 'neuron:LAYER.POS.NEURON', example: 'neuron:2.7.300', hook: 'mlp.hook_post' },
  dla: { fields: ['layer', 'head'], seps: ['', '.'], syntax: 'dla:LAYER.HEAD', example: 'dla:9.9', hook: 'attn.hook_z' },
};

const FIELD_TEXT: Record<keyof MetricSite, string> = { layer: 'layer', head: 'head', query: 'query position', key: 'key position', pos: 'position', neuron: 'neuron' };

export function isInternalMetric(name: MetricName): name is InternalMetricName {
  return (INTERNAL_METRICS as readonly string[]).includes(name);
}

/** Every accepted form, for messages and help text. */
export const METRIC_SYNTAX = [...LOGIT_METRICS, ...INTERNAL_METRICS.map((m) => INTERNAL[m].syntax)].join(', ');

/** Parses `logit_diff`, `attn:L.H:q:k`, `prefix:L.H`, `neuron:L.pos.n`, `dla:L.H`; throws a specific Error. */
export function parseMetric(text: string): MetricSpec {
  const t = text.trim();
  const colon = t.indexOf(':');
  const name = colon < 0 ? t : t.slice(0, colon);
  if ((LOGIT_METRICS as readonly string[]).includes(name)) {
    if (colon >= 0) throw new Error(`Metric "${t}": ${name} takes no location after ":"; write ${name}.`);
    return { name: name as MetricName };
  }
  if (!(INTERNAL_METRICS as readonly string[]).includes(name))
    throw new Error(`Unknown metric "${t}"; choose one of ${METRIC_SYNTAX}.`);
  const m = INTERNAL[name as InternalMetricName];
  const expected = `expected ${m.syntax}, e.g. ${m.example}`;
  if (colon < 0) throw new Error(`Metric "${t}": ${name} needs a location; ${expected}.`);
  const rest = t.slice(colon + 1);
  const parts = rest.split(/[.:]/);
  const fields = m.fields.map((f) => FIELD_TEXT[f]);
  if (parts.length !== m.fields.length)
    throw new Error(`Metric "${t}": ${name} takes ${m.fields.length} numbers (${fields.join(', ')}), not ${parts.length}; ${expected}.`);
  const bad = parts.findIndex((p) => !/^\d+$/.test(p));
  if (bad >= 0)
    throw new Error(`Metric "${t}": the ${fields[bad]} ${parts[bad] === '' ? 'is missing' : `"${parts[bad]}" is not a whole number`}; ${expected}.`);
  const seps = [...rest.matchAll(/[.:]/g)].map((x) => x[0]);
  const wrong = seps.findIndex((c, i) => c !== m.seps[i + 1]);
  if (wrong >= 0)
    throw new Error(`Metric "${t}": write "${m.seps[wrong + 1]}" between the ${fields[wrong]} and the ${fields[wrong + 1]}, not "${seps[wrong]}"; ${expected}.`);
  const site: Partial<MetricSite> = {};
  m.fields.forEach((f, i) => (site[f] = Number(parts[i])));
  return { name: name as MetricName, site: site as MetricSite };
}

/** The inverse of parseMetric. */
export function formatMetric(spec: MetricSpec): string {
  if (!isInternalMetric(spec.name)) return spec.name;
  const m = INTERNAL[spec.name];
  const site = spec.site;
  if (!site) throw new Error(`The ${spec.name} metric has no location (${m.syntax}).`);
  return `${spec.name}:` + m.fields.map((f, i) => {
    const v = site[f];
    if (v === undefined) throw new Error(`The ${spec.name} metric's ${FIELD_TEXT[f]} is missing (${m.syntax}).`);
    return m.seps[i] + v;
  }).join('');
}

/** The site fields an internal metric uses, in text order (experiment.ts validates them). */
export function siteFields(name: InternalMetricName): readonly (keyof MetricSite)[] {
  return INTERNAL[name].fields;
}

/** The TransformerLens hook the metric reads (null for metrics on the logits). */
export function metricHook(spec: MetricSpec): string | null {
  if (!isInternalMetric(spec.name)) return null;
  if (!spec.site) throw new Error(`The ${spec.name} metric has no location (${INTERNAL[spec.name].syntax}).`);
  return `blocks.${spec.site.layer}.${INTERNAL[spec.name].hook}`;
}

/**
 * Forward order inside a block (gpt2.ts `block`). Hooks that share a rank are computed side by side; the edge graph's
 * hook_{q,k,v}_input copies of resid_pre come before ln1 (ln1 then reads them).
 */
const BLOCK_ORDER: Record<string, number> = {
  hook_resid_pre: 0,
  hook_q_input: 1, hook_k_input: 1, hook_v_input: 1,
  'ln1.hook_scale': 2, 'ln1.hook_normalized': 2,
  'attn.hook_q': 3, 'attn.hook_k': 3, 'attn.hook_v': 3,
  'attn.hook_attn_scores': 4,
  'attn.hook_pattern': 5,
  'attn.hook_z': 6,
  'attn.hook_result': 7,
  hook_attn_out: 8,
  hook_resid_mid: 9,
  hook_mlp_in: 10,
  'ln2.hook_scale': 11, 'ln2.hook_normalized': 11,
  'mlp.hook_pre': 12,
  'mlp.hook_post': 13,
  hook_mlp_out: 14,
  hook_resid_post: 15,
};

/** [layer, rank] of a hook in the forward order; embeddings come first, ln_final last. */
function forwardRank(hookName: string): [number, number] {
  if (hookName === 'hook_embed' || hookName === 'hook_pos_embed') return [-1, 0];
  if (hookName.startsWith('ln_final.hook_')) return [Infinity, 0];
  const m = /^blocks\.(\d+)\.(.+)$/.exec(hookName);
  const rank = m ? BLOCK_ORDER[m[2]] : undefined;
  if (!m || rank === undefined) throw new Error(`Unknown hook "${hookName}": not a GPT-2 TransformerLens hook name.`);
  return [Number(m[1]), rank];
}

/**
 * True when patching `hookName` cannot change the metric because the hook is the metric's own or computed after it
 * (always false for metrics on the logits, which read ln_final's output: ln_final.* is their own location too, but
 * no family patches it).
 */
export function notUpstream(spec: MetricSpec, hookName: string): boolean {
  const own = metricHook(spec);
  if (own === null) return false;
  const [l, r] = forwardRank(hookName);
  const [ml, mr] = forwardRank(own);
  return l > ml || (l === ml && r >= mr);
}

/** Per layer, whether a family's cells there are not upstream of the metric (all false for logit metrics). */
export function notUpstreamLayers(spec: MetricSpec, family: Family, nLayers: number): boolean[] {
  return Array.from({ length: nLayers }, (_, l) => notUpstream(spec, hookFor(family, l)));
}
