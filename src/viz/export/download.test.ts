import { describe, expect, it } from 'vitest';
import { MAX_CANVAS_AREA, MAX_CANVAS_SIDE, pngCanvasSize, safeFilename, svgSize } from './download';

describe('export helpers', () => {
  it('makes safe file names', () => {
    expect(safeFilename('L9H9 pattern / IOI', 'png')).toBe('L9H9-pattern-IOI.png');
    expect(safeFilename('../../etc/passwd', 'csv')).toBe('etc-passwd.csv');
    expect(safeFilename('<script>', 'svg')).toBe('script.svg');
    expect(safeFilename('', 'json')).toBe('patchwork.json');
    expect(safeFilename('a'.repeat(500), 'svg')).toHaveLength(104);
  });

  it('reads the SVG size from attributes, then the viewBox', () => {
    expect(svgSize({ width: '300', height: '200' })).toEqual({ width: 300, height: 200 });
    expect(svgSize({ width: '100%', viewBox: '0 0 640 480' })).toEqual({ width: 640, height: 480 });
    expect(() => svgSize({})).toThrow(/no size/);
  });

  it('scales the canvas, lowering the scale past browser limits', () => {
    expect(pngCanvasSize(300, 200, 2)).toEqual({ width: 600, height: 400, scale: 2 });
    const wide = pngCanvasSize(20000, 100, 2);
    expect(wide.width).toBeLessThanOrEqual(MAX_CANVAS_SIDE);
    const big = pngCanvasSize(12000, 12000, 3);
    expect(big.width * big.height).toBeLessThanOrEqual(MAX_CANVAS_AREA);
  });
});
