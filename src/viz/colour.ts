// Diverging colour for signed patching effects.
//
// Convention: positive = blue, negative = red, 0 = near-white. This is what TransformerLens users see in the
// notebooks (plotly `color_continuous_scale="RdBu", color_continuous_midpoint=0`, as in Neel Nanda's attribution
// patching demo), so a Patchwork heatmap reads the same as the notebook it replaces. ColorBrewer RdBu is
// colour-blind safe (red/blue differ in lightness and hue for deuteranopes and protanopes).
// The domain is always symmetric, [-m, m], so equal colours mean equal magnitudes on both sides of 0.
import { color as d3colour, interpolateBlues, interpolateRdBu } from 'd3';
import { legendTicks, type LegendTick } from './legend/legend-ticks';
import { maxAbs as finiteMaxAbs } from './labelled';

/** NaN (not computed / undefined) cells. Mid grey, clearly apart from RdBu's warm near-white centre (#f2efee). */
export const NOT_COMPUTED_COLOUR = '#b4b4b4';
/** Cells not upstream of an internal-activation metric (issue 13): a flat darker grey, apart from any scale colour and from the hatched "not computed". */
export const NOT_UPSTREAM_COLOUR = '#8e8e94';

export interface DivergingScale {
  (v: number): string;
  /** Half-width of the symmetric domain; 0 when every value is 0 or NaN. */
  readonly maxAbs: number;
  readonly domain: readonly [number, number];
  /** Position of v on the scale in [0, 1]: 0 = -maxAbs (red), 0.5 = zero, 1 = +maxAbs (blue). */
  position(v: number): number;
  /** Sequential (magnitudes, [0, maxAbs], white to blue) rather than diverging. Absent: diverging. */
  readonly sequential?: boolean;
}

/** A scale over [-maxAbs, maxAbs]; values outside are clamped, NaN is grey. */
export function divergingScale(maxAbs: number): DivergingScale {
  const m = Number.isFinite(maxAbs) && maxAbs > 0 ? maxAbs : 0;
  const position = (v: number) => (m === 0 ? 0.5 : Math.min(1, Math.max(0, (v / m + 1) / 2)));
  const scale = ((v: number) => (Number.isNaN(v) ? NOT_COMPUTED_COLOUR : interpolateRdBu(position(v)))) as DivergingScale;
  return Object.assign(scale, { maxAbs: m, domain: [-m, m] as const, position });
}

/** The symmetric scale that fits these values (NaN and infinities ignored), unless the caller fixes maxAbs. */
export function scaleFor(values: ArrayLike<number>, fixedMaxAbs?: number): DivergingScale {
  return divergingScale(fixedMaxAbs ?? finiteMaxAbs(values));
}

/**
 * Magnitudes (unsigned estimators such as GradDrop and AtP*): one hue, white at 0 to dark blue at maxAbs, so no
 * colour suggests a sign the numbers do not have. Values below 0 clamp to 0; NaN is grey.
 */
export function sequentialScale(maxAbs: number): DivergingScale {
  const m = Number.isFinite(maxAbs) && maxAbs > 0 ? maxAbs : 0;
  const position = (v: number) => (m === 0 ? 0 : Math.min(1, Math.max(0, v / m)));
  const scale = ((v: number) => (Number.isNaN(v) ? NOT_COMPUTED_COLOUR : interpolateBlues(position(v)))) as DivergingScale;
  return Object.assign(scale, { maxAbs: m, domain: [0, m] as const, position, sequential: true });
}

export interface LegendModel {
  /** Gradient stops, left (negative) to right (positive), for an SVG linearGradient. */
  stops: { offset: number; colour: string }[];
  /** Tick marks at [0, 1] positions along the bar, symmetric about 0, thinned so labels do not overlap. */
  ticks: LegendTick[];
}

/** Everything a colour bar `width` px wide needs, with no DOM: at most `ticks` ticks (odd, so 0 is a tick). */
export function legendModel(scale: DivergingScale,
  opts: { stops?: number; ticks?: number; width?: number; charWidth?: number } = {}): LegendModel {
  const nStops = Math.max(2, opts.stops ?? 11);
  const interpolate = scale.sequential ? interpolateBlues : interpolateRdBu;
  const stops = Array.from({ length: nStops }, (_, i) => {
    const offset = i / (nStops - 1);
    return { offset, colour: interpolate(offset) };
  });
  const ticks = legendTicks(scale.maxAbs, opts.width ?? 180, { maxTicks: opts.ticks, charWidth: opts.charWidth });
  if (!scale.sequential) return { stops, ticks };
  // The symmetric ticks' right half, stretched over the whole bar: 0 at the left end, maxAbs at the right.
  const half = ticks.filter((t) => t.value >= 0).map((t) => {
    const position = scale.maxAbs > 0 ? t.value / scale.maxAbs : 0;
    const anchor: LegendTick['anchor'] = position <= 0 ? 'start' : position >= 1 ? 'end' : 'middle';
    return { ...t, position, anchor };
  });
  return { stops, ticks: half };
}

/** Black or white, whichever reads better on `background` (WCAG relative luminance). */
export function contrastInk(background: string): '#000' | '#fff' {
  const c = d3colour(background)?.rgb();
  if (!c) return '#000';
  const lin = (u: number) => {
    const s = u / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const L = 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  // Contrast with black (L + 0.05) / 0.05 vs with white 1.05 / (L + 0.05): black wins above L ~ 0.179.
  return L > 0.179 ? '#000' : '#fff';
}
