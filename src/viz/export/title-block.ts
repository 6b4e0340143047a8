// The title block an exported figure carries above the chart (issue 14): what it shows, on which model, prompts,
// metric and estimator, so a PNG pasted into a slide or a paper draft still says where its numbers came from.
import type { ExperimentSpec } from '../../engine/patching/types';

export interface ExportContext {
  /** The figure's own title, e.g. "Residual stream (resid_pre)". */
  title: string;
  model: string;
  spec: Pick<ExperimentSpec, 'pairs' | 'metric' | 'direction'>;
  /** Estimator name, e.g. "AtP" or "attribution (AtP)". */
  estimator: string;
  unit: string;
  /** What the cells show, when not the estimate (e.g. "activation patch (exact)"). */
  values?: string;
}

/** Lines longer than this are cut with an ellipsis; the full inputs are in the JSON export. */
export const MAX_TITLE_CHARS = 110;

const cut = (s: string, max: number) => {
  const chars = Array.from(s);
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
};
const quote = (s: string) => JSON.stringify(s);

/** The block's text, first line the title. Prompt lines show the first pair and how many more there are. */
export function exportTitleLines(c: ExportContext, max = MAX_TITLE_CHARS): string[] {
  const first = c.spec.pairs[0];
  const more = c.spec.pairs.length > 1 ? ` (pair 1 of ${c.spec.pairs.length})` : '';
  const lines = [
    c.title,
    [`model ${c.model}`, `metric ${c.spec.metric.name} (${c.unit})`, c.spec.direction, `estimator ${c.estimator}`,
      ...(c.values ? [`cells: ${c.values}`] : [])].join(' · '),
  ];
  if (first) {
    lines.push(`clean${more}: ${quote(first.clean)}`);
    lines.push(`corrupted: ${quote(first.corrupted)}`);
    if (first.answer || first.wrong) lines.push(`answer ${quote(first.answer)}${first.wrong ? ` vs wrong ${quote(first.wrong)}` : ''}`);
  }
  return lines.map((l) => cut(l.replace(/[\r\n\t]+/g, ' '), max));
}

export interface TitleBlockLayout {
  width: number;
  height: number;
  lines: { text: string; y: number; fontSize: number; fontWeight: number }[];
}

/** Rough advance widths of the sans-serif fonts used; generous so no line is clipped. */
const CHAR_WIDTH: Record<number, number> = { 13: 7.8, 11: 6.6 };

/** Where each line goes and how big the block is; the exported SVG is at least `minWidth` wide (the chart's width). */
export function titleBlockLayout(lines: readonly string[], minWidth: number, pad = 8): TitleBlockLayout {
  let y = pad;
  let width = minWidth;
  const out = lines.map((text, i) => {
    const fontSize = i === 0 ? 13 : 11;
    y += fontSize + 4;
    width = Math.max(width, Math.ceil(Array.from(text).length * CHAR_WIDTH[fontSize]) + 2 * pad);
    return { text, y, fontSize, fontWeight: i === 0 ? 600 : 400 };
  });
  return { width, height: lines.length ? y + pad : 0, lines: out };
}
