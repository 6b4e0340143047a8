import { describe, expect, it } from 'vitest';
import { color, interpolateBlues, interpolateRdBu } from 'd3';
import { NOT_COMPUTED_COLOUR, contrastInk, divergingScale, legendModel, scaleFor, sequentialScale } from './colour';
import { formatTick, formatValue } from './format';

const rgb = (s: string) => color(s)!.rgb();

describe('divergingScale', () => {
  it('is symmetric around 0 with positive = blue, negative = red, 0 = RdBu centre', () => {
    const s = divergingScale(2);
    expect(s.domain).toEqual([-2, 2]);
    expect(s(0)).toBe(interpolateRdBu(0.5));
    expect(s(2)).toBe(interpolateRdBu(1));
    expect(s(-2)).toBe(interpolateRdBu(0));
    const pos = rgb(s(1.5));
    const neg = rgb(s(-1.5));
    expect(pos.b).toBeGreaterThan(pos.r);
    expect(neg.r).toBeGreaterThan(neg.b);
    // Equal magnitudes -> equal distance from the centre on the scale.
    expect(s.position(1) - 0.5).toBeCloseTo(0.5 - s.position(-1), 12);
  });

  it('clamps values outside the domain (shared domains across panels)', () => {
    const s = divergingScale(1);
    expect(s(10)).toBe(s(1));
    expect(s(-10)).toBe(s(-1));
  });

  it('draws NaN as neutral grey, distinct from the zero colour', () => {
    const s = divergingScale(1);
    expect(s(NaN)).toBe(NOT_COMPUTED_COLOUR);
    expect(s(NaN)).not.toBe(s(0));
    const g = rgb(NOT_COMPUTED_COLOUR);
    expect(g.r).toBe(g.g);
    expect(g.g).toBe(g.b);
  });

  it('degenerates to the centre colour when every value is 0', () => {
    const s = divergingScale(0);
    expect(s.maxAbs).toBe(0);
    expect(s(0)).toBe(interpolateRdBu(0.5));
    expect(divergingScale(NaN).maxAbs).toBe(0);
  });

  it('scaleFor fits max |v| ignoring NaN and infinities, unless fixed', () => {
    expect(scaleFor([0.1, -0.7, NaN, 0.3, Infinity]).maxAbs).toBe(0.7);
    expect(scaleFor([0.1, -0.7], 5).maxAbs).toBe(5);
    expect(scaleFor(new Float64Array([NaN])).maxAbs).toBe(0);
  });
});

describe('legendModel', () => {
  it('has stops from red to blue and an odd number of ticks with 0 in the middle', () => {
    const m = legendModel(divergingScale(0.42), { ticks: 4, width: 300 });
    expect(m.stops[0].colour).toBe(interpolateRdBu(0));
    expect(m.stops.at(-1)!.colour).toBe(interpolateRdBu(1));
    expect(m.ticks).toHaveLength(5);
    expect(m.ticks.map((t) => t.label)).toEqual(['-0.42', '-0.21', '0', '0.21', '0.42']);
    expect(m.ticks[2].position).toBe(0.5);
  });

  it('thins the ticks of a 180 px bar rather than run labels together', () => {
    expect(legendModel(divergingScale(0.00296)).ticks.map((t) => t.label)).toEqual(['-3.0e-3', '0', '3.0e-3']);
  });

  it('has a single 0 tick for an all-zero scale', () => {
    expect(legendModel(divergingScale(0)).ticks).toEqual([{ value: 0, position: 0.5, label: '0', anchor: 'middle' }]);
  });
});

describe('contrastInk', () => {
  it('uses white on the dark ends and black on the light centre', () => {
    expect(contrastInk(interpolateRdBu(0))).toBe('#fff');
    expect(contrastInk(interpolateRdBu(1))).toBe('#fff');
    expect(contrastInk(interpolateRdBu(0.5))).toBe('#000');
    expect(contrastInk(NOT_COMPUTED_COLOUR)).toBe('#000');
  });
});

describe('formatValue / formatTick', () => {
  it('formats with an ASCII minus and sensible precision', () => {
    expect(formatValue(0.41234)).toBe('0.412');
    expect(formatValue(-3.5519)).toBe('-3.552');
    expect(formatValue(2)).toBe('2');
    expect(formatValue(-0.0001)).toBe('-1.00e-4');
    expect(formatValue(-0.0000001 + 0.0000001)).toBe('0');
    expect(formatValue(-0.0004999)).toBe('-5.00e-4');
    expect(formatValue(NaN)).toBe('n/a');
    expect(formatValue(-Infinity)).toBe('-inf');
    expect(formatTick(3.5519)).toBe('3.55');
    expect(formatTick(-1234)).toBe('-1230');
  });
});

describe('sequentialScale (magnitudes of unsigned estimators)', () => {
  it('runs from white-ish at 0 to dark blue at maxAbs, one hue, NaN grey', () => {
    const s = sequentialScale(2);
    expect(s.domain).toEqual([0, 2]);
    expect(s.sequential).toBe(true);
    expect(s(0)).toBe(interpolateBlues(0));
    expect(s(2)).toBe(interpolateBlues(1));
    expect(s(1)).toBe(interpolateBlues(0.5));
    expect(s(-1)).toBe(s(0));
    expect(s(NaN)).toBe(NOT_COMPUTED_COLOUR);
  });

  it('has a legend with blue stops and ticks from 0 at the left end to maxAbs at the right', () => {
    const m = legendModel(sequentialScale(0.5));
    expect(m.stops[0].colour).toBe(interpolateBlues(0));
    expect(m.stops.at(-1)!.colour).toBe(interpolateBlues(1));
    expect(m.ticks[0]).toMatchObject({ value: 0, position: 0, label: '0', anchor: 'start' });
    expect(m.ticks.at(-1)).toMatchObject({ position: 1, anchor: 'end' });
    expect(m.ticks.every((t) => t.value >= 0)).toBe(true);
  });
});
