import { csvParseRows } from 'd3';
import { describe, expect, it } from 'vitest';
import type { Labelled } from '../../engine/patching/types';
import { guardFormula, JSON_FORMAT, toCsv, toJson } from './tabular';

const l: Labelled = { axes: ['layer', 'pos'], shape: [2, 3], data: Float64Array.from([0.1, -0.2, NaN, 1 / 3, Infinity, 0]) };

describe('toCsv', () => {
  it('writes one row per cell, row-major, axis names then value', () => {
    const csv = toCsv(l);
    expect(csv).toBe([
      'layer,pos,value',
      '0,0,0.1', '0,1,-0.2', '0,2,', '1,0,0.3333333333333333', '1,1,inf', '1,2,0',
    ].join('\n') + '\n');
  });

  it('adds label columns and quotes commas, quotes, newlines; "<" stays plain text', () => {
    const tokens = ['·say "hi", ok', '·a\nb', '·<script>'];
    const csv = toCsv(l, { pos: tokens, layer: ['L0', 'L1'] });
    const lines = csv.split('\n');
    expect(lines[0]).toBe('layer,layer_label,pos,pos_label,value');
    expect(lines[1]).toBe('0,L0,0,"·say ""hi"", ok",0.1');
    // Round trip through a CSV parser gives the exact strings back.
    const rows = csvParseRows(csv.trimEnd());
    expect(rows).toHaveLength(7);
    expect(rows.map((r) => r[3]).slice(1, 4)).toEqual(tokens);
    expect(rows[3][3]).toBe('·<script>');
  });

  it('writes several same-layout series side by side', () => {
    const p: Labelled = { ...l, data: Float64Array.from([0.09, NaN, NaN, NaN, NaN, NaN]) };
    const csv = toCsv({ attribution: l, activation_patch: p });
    expect(csv.split('\n').slice(0, 2)).toEqual(['layer,pos,attribution,activation_patch', '0,0,0.1,0.09']);
    expect(() => toCsv({ a: l, b: { ...l, shape: [3, 2] } })).toThrow(/layout/);
  });

  it('defuses spreadsheet formulas in text cells, not in numbers', () => {
    expect(guardFormula('=HYPERLINK("x")')).toBe('\'=HYPERLINK("x")');
    expect(guardFormula('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(guardFormula('·Mary')).toBe('·Mary');
    const csv = toCsv(l, { pos: ['=1+1', '+1', '-1'] });
    expect(csv).toContain("0,0,'=1+1,0.1");
    expect(csv).toContain('0,1,\'+1,-0.2'); // the negative number itself is untouched
    expect(toCsv(l, { pos: ['=1+1', '', ''] }, { guardFormulas: false })).toContain('0,0,=1+1,0.1');
  });
});

describe('toJson', () => {
  it('nests values by axis, NaN and infinities as null, with labels and meta', () => {
    const obj = JSON.parse(toJson({ attribution: l }, { pos: ['·a', '·"b"', '<c>'] }, { family: 'resid_pre' }));
    expect(obj).toEqual({
      format: JSON_FORMAT,
      axes: ['layer', 'pos'],
      shape: [2, 3],
      axisLabels: { pos: ['·a', '·"b"', '<c>'] },
      values: { attribution: [[0.1, -0.2, null], [1 / 3, null, 0]] },
      meta: { family: 'resid_pre' },
    });
  });

  it('names a single series "value" and handles 3-D arrays', () => {
    const t: Labelled = { axes: ['layer', 'head', 'pos'], shape: [1, 2, 2], data: Float64Array.from([1, 2, 3, 4]) };
    expect(JSON.parse(toJson(t)).values).toEqual({ value: [[[1, 2], [3, 4]]] });
  });
});
