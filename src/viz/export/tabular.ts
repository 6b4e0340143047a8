// CSV and JSON exports of Labelled results. Pure: strings in, strings out; the download is in download.ts.
import { csvFormatRows } from 'd3';
import type { AxisName, Labelled } from '../../engine/patching/types';
import { sameLayout, size, unravel } from '../labelled';

/** Display labels per axis, e.g. {pos: ['<|endoftext|>', '·When', ...], layer: ['L0', ...]}. */
export type AxisLabels = Partial<Record<AxisName, readonly string[]>>;

/** One Labelled ("value" column) or several of the same layout, one column each (e.g. attribution, activation_patch). */
export type Columns = Labelled | Record<string, Labelled>;

function columnsOf(values: Columns): [string, Labelled][] {
  const cols: [string, Labelled][] = 'axes' in values && 'data' in values && values.data instanceof Float64Array
    ? [['value', values as Labelled]]
    : Object.entries(values as Record<string, Labelled>);
  if (cols.length === 0) throw new Error('nothing to export');
  const [, first] = cols[0];
  for (const [name, l] of cols) {
    if (!sameLayout(first, l)) throw new Error(`column '${name}' has layout [${l.axes}] ${l.shape}, expected [${first.axes}] ${first.shape}`);
  }
  return cols;
}

/** Spreadsheet formula injection (OWASP "CSV Injection"): a token text like "=cmd|..." must not become a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

export function guardFormula(s: string): string {
  return FORMULA_START.test(s) ? `'${s}` : s;
}

function numberCell(v: number): string {
  if (Number.isNaN(v)) return '';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(v); // shortest string that round-trips the float64
}

export interface CsvOptions {
  /** Prefix text cells that start with = + - @ with a quote so spreadsheets show them as text. Default true. */
  guardFormulas?: boolean;
}

/**
 * One row per cell in row-major order. Columns: each axis's index (named as the axis), followed by `<axis>_label`
 * where labels are given, then one column per value series. NaN (not computed) is an empty cell.
 * Quoting (RFC 4180: fields with quotes, commas or newlines are quoted, quotes doubled) is d3-dsv's.
 */
export function toCsv(values: Columns, axisLabels: AxisLabels = {}, opts: CsvOptions = {}): string {
  const cols = columnsOf(values);
  const { axes, shape } = cols[0][1];
  const text = opts.guardFormulas === false ? (s: string) => s : guardFormula;
  const header: string[] = [];
  for (const axis of axes) {
    header.push(axis);
    if (axisLabels[axis]) header.push(`${axis}_label`);
  }
  for (const [name] of cols) header.push(text(name));
  const rows: string[][] = [header];
  const n = size(shape);
  for (let flat = 0; flat < n; flat++) {
    const index = unravel(shape, flat);
    const row: string[] = [];
    axes.forEach((axis, i) => {
      row.push(String(index[i]));
      const labels = axisLabels[axis];
      if (labels) row.push(text(labels[index[i]] ?? ''));
    });
    for (const [, l] of cols) row.push(numberCell(l.data[flat]));
    rows.push(row);
  }
  return csvFormatRows(rows) + '\n';
}

type Nested = (number | null) | Nested[];

function nest(l: Labelled): Nested {
  const build = (dim: number, offset: number, stride: number): Nested => {
    if (dim === l.shape.length) {
      const v = l.data[offset];
      return Number.isFinite(v) ? v : null; // JSON has no NaN/Infinity
    }
    const inner = stride / l.shape[dim];
    return Array.from({ length: l.shape[dim] }, (_, i) => build(dim + 1, offset + i * inner, inner));
  };
  return build(0, 0, size(l.shape));
}

export const JSON_FORMAT = 'patchwork.labelled/1';

/**
 * {format, axes, shape, axisLabels?, values: {name: nested arrays [axis0][axis1]...}, meta?}.
 * NaN and infinities become null; `np.array(values[name], dtype=float)` restores NaN and the shape.
 */
export function toJson(values: Columns, axisLabels: AxisLabels = {}, meta?: Record<string, unknown>): string {
  const cols = columnsOf(values);
  const { axes, shape } = cols[0][1];
  const labels = Object.fromEntries(axes.filter((a) => axisLabels[a]).map((a) => [a, axisLabels[a]]));
  const out: Record<string, unknown> = { format: JSON_FORMAT, axes, shape };
  if (Object.keys(labels).length) out.axisLabels = labels;
  out.values = Object.fromEntries(cols.map(([name, l]) => [name, nest(l)]));
  if (meta) out.meta = meta;
  return JSON.stringify(out);
}
