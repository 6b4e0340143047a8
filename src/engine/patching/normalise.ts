// The normalised view's scale, pure (no graph code): the page bundle imports it without the patching engine.

/** Normalised view: (x - corrupted) / (clean - corrupted) for a metric value; for a patch effect (a change),
 *  divide by (clean - corrupted). Warns when the denominator is (nearly) zero. */
export function normaliser(metric: { clean: number; corrupted: number }): { scale: number; warning?: string } {
  const gap = metric.clean - metric.corrupted;
  const size = Math.max(Math.abs(metric.clean), Math.abs(metric.corrupted), 1e-12);
  if (Math.abs(gap) < 1e-6 || Math.abs(gap) / size < 1e-3)
    return { scale: NaN, warning: `The clean and corrupted metrics are (nearly) equal (${metric.clean.toFixed(4)} vs ${metric.corrupted.toFixed(4)}), so the normalised view is undefined: the prompts do not differ on this metric.` };
  return { scale: 1 / gap };
}
