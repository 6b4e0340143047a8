// One "Export" button per chart opening a menu of SVG / PNG / CSV / JSON (issue 14: four buttons on every figure
// crowded the captions). The caller supplies getters so nothing is serialised until a choice is made; images carry
// the title block from `titleLines`.
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { downloadPng, downloadSvg, downloadText, safeFilename, withTitleBlock } from './download';
import '../viz.css';

/** Excel reads a BOM-less CSV as the local ANSI code page and garbles token texts like '·Mary'; pandas skips it. */
const BOM = '\ufeff';

export interface ExportButtonsProps {
  /** File name stem, e.g. "ioi-head_out-L9". */
  filename: string;
  svg?: () => SVGSVGElement | null;
  csv?: () => string;
  json?: () => string;
  /** Images made some other way (plotly): called with the format. */
  image?: (format: 'png' | 'svg', titleLines: string[]) => Promise<void>;
  /** Title block lines drawn above the chart in SVG and PNG exports (model, prompts, metric, estimator). */
  titleLines?: () => string[];
  /** PNG scale factor. */
  scale?: number;
}

type Item = { id: 'svg' | 'png' | 'csv' | 'json'; label: string; act: () => void | Promise<void> };

export function ExportButtons({ filename, svg, csv, json, image, titleLines, scale = 2 }: ExportButtonsProps) {
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const root = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const needSvg = () => {
    const el = svg?.();
    if (!el) throw new Error('the chart is not on screen');
    return withTitleBlock(el, titleLines?.() ?? []);
  };
  const items: Item[] = [
    ...(svg ? [{ id: 'svg', label: 'SVG image', act: () => downloadSvg(needSvg(), filename) }] as Item[] : []),
    ...(svg ? [{ id: 'png', label: 'PNG image', act: () => downloadPng(needSvg(), scale, filename) }] as Item[] : []),
    ...(!svg && image ? [
      { id: 'svg', label: 'SVG image', act: () => image('svg', titleLines?.() ?? []) },
      { id: 'png', label: 'PNG image', act: () => image('png', titleLines?.() ?? []) },
    ] as Item[] : []),
    ...(csv ? [{ id: 'csv', label: 'CSV data', act: () => downloadText(BOM + csv(), safeFilename(filename, 'csv'), 'text/csv;charset=utf-8') }] as Item[] : []),
    ...(json ? [{ id: 'json', label: 'JSON data + inputs', act: () => downloadText(json(), safeFilename(filename, 'json'), 'application/json') }] as Item[] : []),
  ];
  const choose = (item: Item) => async () => {
    setError(null);
    setOpen(false);
    toggle.current?.focus();
    try {
      await item.act();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  // Close on a click or focus outside the menu.
  useEffect(() => {
    if (!open) return;
    const away = (e: Event) => { if (root.current && !root.current.contains(e.target as Node)) setOpen(false); };
    document.addEventListener('pointerdown', away);
    document.addEventListener('focusin', away);
    return () => {
      document.removeEventListener('pointerdown', away);
      document.removeEventListener('focusin', away);
    };
  }, [open]);
  useEffect(() => {
    if (open) root.current?.querySelector<HTMLButtonElement>('[role="menuitem"]')?.focus();
  }, [open]);
  // WAI-ARIA menu button: arrows move between items, Escape closes and returns focus to the button.
  const onMenuKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const all = Array.from(root.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? []);
    const at = all.indexOf(document.activeElement as HTMLButtonElement);
    const to = e.key === 'ArrowDown' ? (at + 1) % all.length : e.key === 'ArrowUp' ? (at - 1 + all.length) % all.length
      : e.key === 'Home' ? 0 : e.key === 'End' ? all.length - 1 : -1;
    if (to >= 0) {
      e.preventDefault();
      all[to]?.focus();
    } else if (e.key === 'Escape' || e.key === 'Tab') {
      if (e.key === 'Escape') e.preventDefault();
      setOpen(false);
      if (e.key === 'Escape') toggle.current?.focus();
    }
  };
  if (!items.length) return null;
  return (
    <div className="pw-export" ref={root}>
      <button
        ref={toggle}
        type="button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onClick={() => setOpen(!open)}
        onKeyDown={(e) => { if (e.key === 'ArrowDown') { e.preventDefault(); setOpen(true); } }}
        data-testid="export.menu"
      >
        Export ▾
      </button>
      {open ? (
        <div className="pw-export-menu" role="menu" id={menuId} aria-label="Export" onKeyDown={onMenuKey}>
          {items.map((item) => (
            <button key={item.id} type="button" role="menuitem" tabIndex={-1} data-testid={`export.${item.id}`} onClick={() => void choose(item)()}>
              {item.label}
            </button>
          ))}
        </div>
      ) : null}
      {error ? <span role="alert" className="pw-muted">Export failed: {error}</span> : null}
    </div>
  );
}
