// The app's side of metrics on internal activations (issue 13, item 3): which cells of a result are not upstream of
// the metric (the engine leaves them NaN and never computes them; the views must tell them from "not computed"), the
// metric's own cell in a family's layout, and the default location when a user picks such a metric. The syntax,
// hooks and forward order are the engine's (metric-spec.ts, graph-free); nothing here re-derives them.
import { hookFor, FAMILY_TABLE, type Family } from '../engine/patching/families';
import { isInternalMetric, metricHook, notUpstream, siteFields } from '../engine/patching/metric-spec';
import type { AxisName } from '../engine/patching/labelled';
import type { MetricName, MetricSite, MetricSpec } from '../engine/patching/types';

/** The metric's hook for a cell that is not upstream of it, else null; null (no function) for metrics on the logits. */
export type NotUpstreamOf = (family: Family, index: readonly number[]) => string | null;

/** A safe metricHook: null for metrics on the logits and for an internal metric whose location is missing. */
export function safeMetricHook(metric: MetricSpec): string | null {
  try {
    return metricHook(metric);
  } catch {
    return null;
  }
}

/**
 * The per-cell test for a result computed with `metric`. Cells are not upstream by their hook alone (layer and the
 * place of the hook inside the block): the same test the engine applies (metric-spec.ts notUpstream).
 */
export function notUpstreamOf(metric: MetricSpec): NotUpstreamOf | null {
  const own = safeMetricHook(metric);
  if (own === null) return null;
  const memo = new Map<string, boolean>();
  return (family, index) => {
    const hook = hookFor(family, index[0]);
    let blocked = memo.get(hook);
    if (blocked === undefined) memo.set(hook, (blocked = notUpstream(metric, hook)));
    return blocked ? own : null;
  };
}

/** Which site field a result axis reads, per metric (`pos` is the neuron's position, or the attn metric's query). */
function siteValue(site: MetricSite, axis: AxisName, name: MetricName): number | undefined {
  switch (axis) {
    case 'layer': return site.layer;
    case 'head': return site.head;
    case 'neuron': return site.neuron;
    case 'query_pos': return site.query;
    case 'key_pos': return site.key;
    case 'pos': return name === 'neuron' ? site.pos : undefined;
  }
}

/**
 * The metric's own cell in a family's layout, to outline: the cell of the metric's hook (pattern_by_pos [L, H, q, k]
 * for attn, mlp_post [L, pos, n] for neuron, ...), or the metric's head in any layer x head family; else null.
 */
export function metricCell(metric: MetricSpec, family: Family): number[] | null {
  if (!isInternalMetric(metric.name) || !metric.site) return null;
  const own = safeMetricHook(metric);
  const axes = FAMILY_TABLE[family].axes as readonly AxisName[];
  const sameHook = own !== null && hookFor(family, metric.site.layer) === own;
  const headGrid = axes.length === 2 && axes[0] === 'layer' && axes[1] === 'head';
  if (!sameHook && !headGrid) return null;
  const index = axes.map((a) => siteValue(metric.site!, a, metric.name));
  return index.every((v): v is number => v !== undefined) ? index : null;
}

/** The circuit graph's node of the metric (a head for attn, prefix and dla), or null. */
export function metricNode(metric: MetricSpec): string | null {
  const s = metric.site;
  return isInternalMetric(metric.name) && s?.head !== undefined ? `a${s.layer}.h${s.head}` : null;
}

/**
 * A complete location for an internal metric on a model and prompt: the fields the user already set (kept, even when
 * out of range: the editor says so rather than change them), the rest from defaults that point somewhere meaningful
 * (last layer, last position, key 0).
 */
export function defaultSite(name: MetricName, cfg: { nLayers: number }, nPos: number, from: Partial<MetricSite> = {}): MetricSite | undefined {
  if (!isInternalMetric(name)) return undefined;
  const last = Math.max(0, nPos - 1);
  const defaults: Required<MetricSite> = { layer: Math.max(0, cfg.nLayers - 1), head: 0, query: last, key: 0, pos: last, neuron: 0 };
  const site = { layer: from.layer ?? defaults.layer } as MetricSite;
  for (const f of siteFields(name)) site[f] = from[f] ?? defaults[f];
  return site;
}
