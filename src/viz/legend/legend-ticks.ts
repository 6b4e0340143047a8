// Tick values and labels for the diverging colour bar, with no DOM.
//
// The bar is only ~180 px wide, so five ticks labelled at full precision ran together ("-0.00296-0.00148"). Ticks
// here are symmetric about 0, share one compact format chosen from the bar's half-width, and are thinned (5 -> 3 ->
// ends -> just 0) until no two labels, estimated at a fixed advance per character, come within `gap` of each other.
import { formatLocale } from 'd3';

// ASCII minus, as in ../format.ts: d3-format's default U+2212 breaks copy-paste and some screen readers.
const { format } = formatLocale({ decimal: '.', thousands: ',', grouping: [3], currency: ['', ''], minus: '-' });

/** Advance of one character of the legend's 10 px sans-serif numerals, rounded up (digits are ~0.56 em). */
export const TICK_CHAR_WIDTH = 6;
/** Least clear space between two tick labels, px. */
export const TICK_GAP = 4;

export interface LegendTick {
  value: number;
  /** Along the bar in [0, 1]: 0 = -maxAbs, 0.5 = zero, 1 = +maxAbs. */
  position: number;
  label: string;
  /** End labels are anchored inside the bar so they never overhang the chart or the swatches beside the bar. */
  anchor: 'start' | 'middle' | 'end';
}

/**
 * One formatter for every tick of a bar of half-width `maxAbs`: three significant digits of maxAbs in fixed
 * notation for 0.01 <= maxAbs < 10^4 (trailing zeros trimmed: "0.42", "-0.0296", "1200"), otherwise one decimal of
 * exponent notation ("3.0e-3", "-1.5e+5"). 0 is always "0".
 */
export function tickFormat(maxAbs: number): (v: number) => string {
  if (!(Number.isFinite(maxAbs) && maxAbs > 0)) return () => '0';
  const exp = Math.floor(Math.log10(maxAbs));
  const f = exp >= -2 && exp < 4 ? format(`.${Math.max(0, 2 - exp)}~f`) : format('.1e');
  return (v) => {
    const s = v === 0 ? '0' : f(v);
    return /^-?0(\.0*)?(e.*)?$/.test(s) ? '0' : s;
  };
}

/** [left, right] extent of a tick label in px along a bar `width` wide. */
export function labelExtent(t: Pick<LegendTick, 'position' | 'label' | 'anchor'>, width: number,
  charWidth = TICK_CHAR_WIDTH): [number, number] {
  const w = Array.from(t.label).length * charWidth;
  const x = t.position * width;
  if (t.anchor === 'start') return [x, x + w];
  if (t.anchor === 'end') return [x - w, x];
  return [x - w / 2, x + w / 2];
}

function collide(ticks: LegendTick[], width: number, charWidth: number, gap: number): boolean {
  for (let i = 1; i < ticks.length; i++) {
    const [, right] = labelExtent(ticks[i - 1], width, charWidth);
    const [left] = labelExtent(ticks[i], width, charWidth);
    if (left - right < gap) return true;
  }
  return ticks.some((t) => {
    const [l, r] = labelExtent(t, width, charWidth);
    return l < 0 || r > width;
  });
}

function symmetricTicks(maxAbs: number, n: number, fmt: (v: number) => string): LegendTick[] {
  return Array.from({ length: n }, (_, i) => {
    const position = n === 1 ? 0.5 : i / (n - 1);
    // Snap the centre to an exact 0 (float noise would otherwise label it "-1.1e-17").
    const value = n === 1 || 2 * i === n - 1 ? 0 : (position * 2 - 1) * maxAbs;
    const anchor = n > 1 && i === 0 ? 'start' : n > 1 && i === n - 1 ? 'end' : 'middle';
    return { value, position, label: fmt(value), anchor };
  });
}

/**
 * Ticks for a symmetric bar [-maxAbs, maxAbs] drawn `width` px wide: the most of `maxTicks` (odd, >= 3), 3, that fit
 * without overlapping labels; then the two ends alone; then only 0. An all-zero bar has the single tick 0.
 */
export function legendTicks(maxAbs: number, width: number,
  opts: { maxTicks?: number; charWidth?: number; gap?: number } = {}): LegendTick[] {
  const charWidth = opts.charWidth ?? TICK_CHAR_WIDTH;
  const gap = opts.gap ?? TICK_GAP;
  const m = Number.isFinite(maxAbs) && maxAbs > 0 ? maxAbs : 0;
  const zero = symmetricTicks(0, 1, () => '0');
  if (m === 0) return zero;
  const fmt = tickFormat(m);
  let n = Math.max(3, opts.maxTicks ?? 5);
  if (n % 2 === 0) n += 1;
  for (; n >= 3; n -= 2) {
    const ticks = symmetricTicks(m, n, fmt);
    if (!collide(ticks, width, charWidth, gap)) return ticks;
  }
  const ends = symmetricTicks(m, 3, fmt).filter((t) => t.value !== 0);
  return collide(ends, width, charWidth, gap) ? zero : ends;
}
