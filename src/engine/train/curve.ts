// Loss-curve helpers: window means (the monotonicity check of the toy model's acceptance) and a terminal plot.

export interface CurvePoint {
  step: number;
  loss: number;
}

/** Means of `count` consecutive equal windows (the last takes the remainder). */
export function windowMeans(losses: readonly number[], count: number): number[] {
  const size = Math.floor(losses.length / count);
  if (size < 1) throw new Error(`windowMeans: ${losses.length} values cannot fill ${count} windows`);
  return Array.from({ length: count }, (_, w) => {
    const part = losses.slice(w * size, w === count - 1 ? losses.length : (w + 1) * size);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
}

/** A `width` x `height` character plot of `ys` (log-free, min..max on the y axis), one line per row. */
export function asciiPlot(ys: readonly number[], width = 64, height = 12): string[] {
  const cols = windowMeans(ys, Math.min(width, ys.length));
  const lo = Math.min(...cols);
  const hi = Math.max(...cols);
  const span = hi - lo || 1;
  const level = (y: number) => Math.round(((y - lo) / span) * (height - 1));
  const lines: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const label = (lo + (span * r) / (height - 1)).toFixed(2).padStart(6);
    lines.push(`${label} |${cols.map((y) => (level(y) === r ? '*' : ' ')).join('')}`);
  }
  lines.push(`${' '.repeat(6)} +${'-'.repeat(cols.length)} step ${ys.length}`);
  return lines;
}
