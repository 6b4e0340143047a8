// A NaN or Inf result is an error that says where it first appears, never a number (or a blank) on screen: the page
// marks "not computed" with NaN, so a NaN that got through would read as a cell nobody patched yet (issue 16).
// Checked in the worker, on what leaves it; the engine's own load-time check of the weights is separate.

export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
}

const HINT = 'the model produced NaN or Inf (non-finite weights in the checkpoint, or an overflow)';

const word = (v: number) => (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf');

/** The clean and corrupted metric. */
export function checkMetric(metric: { clean: number; corrupted: number }): void {
  for (const which of ['clean', 'corrupted'] as const) {
    const v = metric[which];
    if (!Number.isFinite(v)) throw new NonFiniteError(`The ${which} metric is ${word(v)}: ${HINT}.`);
  }
}

/** One result array with its axis names, e.g. ('attribution of resid_pre', ['layer', 'pos'], [2, 7], data). */
export function checkArray(what: string, axes: readonly string[], shape: readonly number[], data: ArrayLike<number>): void {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i])) continue;
    if (first < 0) first = i;
    count++;
  }
  if (first < 0) return;
  const index: number[] = new Array(shape.length);
  let rest = first;
  for (let a = shape.length - 1; a >= 0; a--) {
    index[a] = rest % shape[a];
    rest = Math.floor(rest / shape[a]);
  }
  const at = index.map((v, a) => `${axes[a] ?? `axis ${a}`} ${v}`).join(', ');
  throw new NonFiniteError(
    `${what} has ${count} of ${data.length} values that are not finite; the first is ${word(data[first])} at ${at || 'the only entry'}: ${HINT}.`,
  );
}

/** One exact patch value. */
export function checkPatch(family: string, index: readonly number[], v: number): void {
  if (!Number.isFinite(v)) throw new NonFiniteError(`The activation patch of ${family} [${index.join(', ')}] is ${word(v)}: ${HINT}.`);
}
