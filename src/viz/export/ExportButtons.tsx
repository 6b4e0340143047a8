// SVG / PNG / CSV / JSON buttons for one chart. The caller supplies getters so nothing is serialised until a click.
import { useState } from 'react';
import { downloadPng, downloadSvg, downloadText, safeFilename } from './download';
import '../viz.css';

/** Excel reads a BOM-less CSV as the local ANSI code page and garbles token texts like '·Mary'; pandas skips it. */
const BOM = '\ufeff';

export interface ExportButtonsProps {
  /** File name stem, e.g. "ioi-head_out-L9". */
  filename: string;
  svg?: () => SVGSVGElement | null;
  csv?: () => string;
  json?: () => string;
  /** PNG scale factor. */
  scale?: number;
}

export function ExportButtons({ filename, svg, csv, json, scale = 2 }: ExportButtonsProps) {
  const [error, setError] = useState<string | null>(null);
  const run = (f: () => void | Promise<void>) => async () => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const needSvg = () => {
    const el = svg?.();
    if (!el) throw new Error('the chart is not on screen');
    return el;
  };
  return (
    <div className="pw-export" role="group" aria-label="Export">
      {svg ? <button type="button" data-testid="export.svg" onClick={run(() => downloadSvg(needSvg(), filename))}>SVG</button> : null}
      {svg ? <button type="button" data-testid="export.png" onClick={run(() => downloadPng(needSvg(), scale, filename))}>PNG</button> : null}
      {csv ? (
        <button type="button" data-testid="export.csv" onClick={run(() => downloadText(BOM + csv(), safeFilename(filename, 'csv'), 'text/csv;charset=utf-8'))}>
          CSV
        </button>
      ) : null}
      {json ? (
        <button type="button" data-testid="export.json" onClick={run(() => downloadText(json(), safeFilename(filename, 'json'), 'application/json'))}>
          JSON
        </button>
      ) : null}
      {error ? <span role="alert" className="pw-muted">Export failed: {error}</span> : null}
    </div>
  );
}
