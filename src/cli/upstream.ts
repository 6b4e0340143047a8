// Results of a metric on an internal activation (issue 13): cells whose hook is the metric's own or after it are
// "not upstream". The engine returns them as NaN (JSON null); `not_upstream` says which, in the same layout
// (1 = not upstream, 0 = computed), so a null is never mistaken for a failure or a 0.
import { isInternalMetric, notUpstreamLayers } from '../engine/patching/metric-spec';
import type { Experiment, Family, Labelled } from '../engine/patching';

/** `x` with the not-upstream cells 0, for the non-finite check (their NaN is intended). */
export function upstreamOnly(exp: Experiment, family: Family, x: Labelled): Labelled {
  if (!isInternalMetric(exp.spec.metric.name)) return x;
  const layers = notUpstreamLayers(exp.spec.metric, family, x.shape[0]);
  const per = x.data.length / x.shape[0];
  return { ...x, data: Float64Array.from(x.data, (v, i) => (layers[Math.floor(i / per)] ? 0 : v)) };
}

/** The `not_upstream` object: family -> 0/1 in the family's layout; undefined for metrics on the logits. */
export function notUpstreamJson(exp: Experiment, values: Partial<Record<Family, Labelled>>): Record<string, Labelled> | undefined {
  if (!isInternalMetric(exp.spec.metric.name)) return undefined;
  const out: Record<string, Labelled> = {};
  for (const [f, x] of Object.entries(values) as [Family, Labelled][]) {
    const layers = notUpstreamLayers(exp.spec.metric, f, x.shape[0]);
    const per = x.data.length / x.shape[0];
    out[f] = { axes: x.axes, shape: x.shape, data: Float64Array.from(x.data, (_, i) => +layers[Math.floor(i / per)]) };
  }
  return out;
}
