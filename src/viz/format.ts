// Number formatting for labels, tooltips and aria-labels. ASCII minus on purpose: d3-format's default U+2212 is
// read inconsistently by screen readers and breaks copy-paste into code.

/** Three decimals for ordinary magnitudes (0.412, -3.552), scientific for tiny or huge ones; NaN -> "n/a". */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2);
  const s = v.toFixed(3).replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

/** Short tick label: at most three significant digits. */
export function formatTick(v: number): string {
  if (!Number.isFinite(v)) return formatValue(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}
