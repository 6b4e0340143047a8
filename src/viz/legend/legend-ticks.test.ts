import { describe, expect, it } from 'vitest';
import { TICK_CHAR_WIDTH, TICK_GAP, labelExtent, legendTicks, tickFormat, type LegendTick } from './legend-ticks';

function expectLegible(ticks: LegendTick[], width: number, charWidth = TICK_CHAR_WIDTH) {
  const extents = ticks.map((t) => labelExtent(t, width, charWidth));
  for (let i = 1; i < extents.length; i++) {
    expect(extents[i][0] - extents[i - 1][1], `${ticks[i - 1].label} | ${ticks[i].label}`).toBeGreaterThanOrEqual(TICK_GAP);
  }
  if (ticks.length > 1) {
    expect(extents[0][0]).toBeGreaterThanOrEqual(0);
    expect(extents.at(-1)![1]).toBeLessThanOrEqual(width);
  }
}

function expectSymmetricWithZero(ticks: LegendTick[], maxAbs: number) {
  const values = ticks.map((t) => t.value);
  expect(values).toContain(0);
  // `+ 0` turns -0 into 0, which toEqual tells apart.
  expect(values.map((v) => -v + 0).reverse()).toEqual(values.map((v) => v + 0));
  expect(ticks.map((t) => t.position)).toEqual([...ticks.map((t) => t.position)].sort((a, b) => a - b));
  expect(Math.max(...values.map(Math.abs))).toBeCloseTo(maxAbs, 12);
  // Mirrored ticks read the same apart from the sign.
  const labels = ticks.map((t) => t.label);
  expect(labels.map((l) => l.replace(/^-/, '')).reverse()).toEqual(labels.map((l) => l.replace(/^-/, '')));
}

describe('tickFormat', () => {
  it('is compact at every magnitude and writes 0 as "0"', () => {
    expect([-3e-3, 0, 3e-3].map(tickFormat(0.00296))).toEqual(['-3.0e-3', '0', '3.0e-3']);
    expect([-0.42, -0.21, 0, 0.21].map(tickFormat(0.42))).toEqual(['-0.42', '-0.21', '0', '0.21']);
    expect(tickFormat(0.0296)(-0.0296)).toBe('-0.0296');
    expect(tickFormat(3.5519)(3.5519)).toBe('3.55');
    expect(tickFormat(1234)(-1234)).toBe('-1234');
    expect(tickFormat(123456)(123456)).toBe('1.2e+5');
    expect(tickFormat(1e-9)(-1e-9)).toBe('-1.0e-9');
  });
});

describe('legendTicks', () => {
  it('labels the reported case without running labels together', () => {
    const ticks = legendTicks(0.00296, 180);
    expect(ticks.map((t) => t.label)).toEqual(['-3.0e-3', '0', '3.0e-3']);
    expect(ticks.map((t) => t.anchor)).toEqual(['start', 'middle', 'end']);
  });

  it('keeps five ticks when they fit', () => {
    expect(legendTicks(2, 180).map((t) => t.label)).toEqual(['-2', '-1', '0', '1', '2']);
  });

  it('never overlaps, stays symmetric and includes 0 across magnitudes on a 180 px bar', () => {
    for (let e = -12; e <= 12; e++) {
      for (const mantissa of [1, 1.23456, 2.96, 5.5, 9.99]) {
        const m = mantissa * 10 ** e;
        const ticks = legendTicks(m, 180);
        expect(ticks.length, String(m)).toBeGreaterThanOrEqual(3);
        expectLegible(ticks, 180);
        expectSymmetricWithZero(ticks, m);
      }
    }
  });

  it('thins to the ends, then to 0 alone, as the bar narrows, and never overlaps', () => {
    for (let width = 10; width <= 400; width += 5) {
      for (const m of [0.00296, 0.42, 123.456, 98765]) {
        const ticks = legendTicks(m, width);
        expectLegible(ticks, width);
        const values = ticks.map((t) => t.value);
        expect(values.map((v) => -v + 0).reverse()).toEqual(values.map((v) => v + 0));
      }
    }
    expect(legendTicks(0.00296, 90).map((t) => t.label)).toEqual(['-3.0e-3', '3.0e-3']);
    expect(legendTicks(0.00296, 80).map((t) => t.label)).toEqual(['0']);
  });

  it('respects a wider character estimate', () => {
    expectLegible(legendTicks(0.42, 180, { charWidth: 9 }), 180, 9);
  });

  it('has one 0 tick for an all-zero or non-finite bar', () => {
    for (const m of [0, NaN, Infinity, -1]) expect(legendTicks(m, 180).map((t) => t.label)).toEqual(['0']);
  });
});
