// SVG heatmap of a 2-D slice of a Labelled result (rows = layer, cols = pos or head, or query_pos x key_pos).
// An ARIA grid with one roving tab stop: arrows move, Enter/Space/click select, hover or focus shows the values.
import {
  useCallback, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent, type Ref,
} from 'react';
import type { Labelled } from '../../engine/patching/types';
import { contrastInk } from '../colour';
import { formatValue } from '../format';
import { ColourLegend, HatchPattern, LEGEND_HEIGHT, NOT_COMPUTED_WIDTH, NOT_UPSTREAM_WIDTH, svgSafeId } from '../legend/ColourLegend';
import {
  heatmapLayout, heatmapModel, moveFocus, notUpstreamText, truncateLabel, type HeatmapCell, type HeatmapModelOptions,
} from './heatmap-model';
import '../viz.css';

export interface HeatmapOptions extends HeatmapModelOptions {
  cellWidth: number;
  cellHeight: number;
  /** Axis labels longer than this are cut with an ellipsis (full text in tooltip and aria-label). */
  maxLabelChars: number;
  title?: string;
  /** Second, smaller title line, e.g. what the rows and columns are. */
  subtitle?: string;
  legend: boolean;
  /** Accessible name of the whole grid; defaults to the title. */
  ariaLabel?: string;
}

export const defaults: HeatmapOptions = {
  cellWidth: 22,
  cellHeight: 18,
  maxLabelChars: 12,
  legend: true,
};

export interface HeatmapProps {
  /** Attribution (or any primary) values, already normalised if the caller wants; NaN = not computed. */
  data: Labelled;
  /** Activation-patch values in the same layout; NaN where not computed yet. */
  patched?: Labelled;
  options?: Partial<HeatmapOptions>;
  /** Standard error over pairs in the same layout (issue 13): shown as ± in the tooltip. */
  sem?: Labelled;
  /** Full index (into `data`) of the selected cell. */
  selected?: readonly number[] | null;
  onSelect?: (index: number[]) => void;
  /** Shift-click or Shift+Enter: add the cell to a set (patch sets) instead of selecting it. */
  onAdd?: (index: number[]) => void;
  /** The <svg>, for export. */
  svgRef?: Ref<SVGSVGElement>;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

export function Heatmap({ data, patched, sem, options, selected, onSelect, onAdd, svgRef }: HeatmapProps) {
  const o = { ...defaults, ...options };
  const model = useMemo(
    () => heatmapModel(data, patched, o),
    // Only the option fields that change numbers or labels, so an inline `options` object does not rebuild the model.
    [data, patched, o.rowAxis, o.colAxis, JSON.stringify(o.fixed), o.family, o.tokens, o.rowLabels, o.colLabels,
      o.unit, o.valueName, o.patchedName, o.maxAbs, o.mask, o.sequential, o.targetName, o.notUpstream, o.metricCell?.join(',')],
  );
  const titleHeight = (o.title ? 20 : 0) + (o.subtitle ? 16 : 0);
  // ~0.56 em per character of the sans-serif title fonts; generous so nothing clips.
  const titleWidth = Math.max(Array.from(o.title ?? '').length * 7.6, Array.from(o.subtitle ?? '').length * 6.4);
  const hasNaN = model.cells.some((c) => c !== null && c.notUpstream === null && Number.isNaN(c.value));
  // The "computed" key only once something is computed (issue 14): before that it explains a mark nobody sees.
  const anyComputed = model.cells.some((c) => c !== null && c.computed);
  const legendWidth = 180 + 16 + (hasNaN ? NOT_COMPUTED_WIDTH : 0) + (model.anyNotUpstream ? NOT_UPSTREAM_WIDTH : 0) + (anyComputed ? 150 : 0);
  const hatchId = svgSafeId(useId()) + '-hatch';
  const layout = heatmapLayout(model, {
    cellWidth: o.cellWidth, cellHeight: o.cellHeight, maxLabelChars: o.maxLabelChars,
    legendHeight: o.legend ? LEGEND_HEIGHT : 0, legendWidth, titleHeight, titleWidth,
  });
  const { cellWidth: cw, cellHeight: ch, left, top } = layout;

  const selectedCell = model.find(selected);
  const firstCell = model.cells.find((c) => c !== null) ?? null;
  const [active, setActive] = useState<{ row: number; col: number } | null>(null);
  // Coordinates, not the cell object, so new data under a still mouse shows the new values.
  const [hoverAt, setHoverAt] = useState<{ row: number; col: number } | null>(null);
  const [focused, setFocused] = useState(false);
  // The single tab stop: last focused cell if still drawn, else the selection, else the first cell.
  const activeCell = (active && model.cellAt(active.row, active.col)) ?? selectedCell ?? firstCell;
  const hover = hoverAt && model.cellAt(hoverAt.row, hoverAt.col);
  const setHover = (c: HeatmapCell | null) => setHoverAt(c && { row: c.row, col: c.col });
  const grid = useRef<SVGGElement>(null);

  const cellFromEvent = (e: { target: EventTarget }): HeatmapCell | null => {
    const el = e.target as Element;
    const r = Number(el.getAttribute?.('data-row'));
    const c = Number(el.getAttribute?.('data-col'));
    return el.getAttribute?.('data-testid') === 'heatmap.cell' ? model.cellAt(r, c) : null;
  };

  const focusCell = useCallback((row: number, col: number) => {
    setActive({ row, col });
    grid.current?.querySelector<SVGRectElement>(`[data-row="${row}"][data-col="${col}"]`)?.focus();
  }, []);

  const onKeyDown = (e: KeyboardEvent<SVGGElement>) => {
    const cell = cellFromEvent(e);
    if (!cell) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (e.shiftKey && onAdd) onAdd(cell.index);
      else onSelect?.(cell.index);
      return;
    }
    if (e.key === 'Escape') {
      setHover(null);
      return;
    }
    const next = moveFocus(cell, e.key, model.nRows, model.nCols, {
      ctrl: e.ctrlKey || e.metaKey, masked: (r, c) => model.cellAt(r, c) === null,
    });
    if (!next) return;
    e.preventDefault();
    focusCell(next.row, next.col);
    setHover(model.cellAt(next.row, next.col));
  };

  const onClick = (e: MouseEvent<SVGGElement>) => {
    const cell = cellFromEvent(e);
    if (!cell) return;
    setActive({ row: cell.row, col: cell.col });
    if (e.shiftKey && onAdd) onAdd(cell.index);
    else onSelect?.(cell.index);
  };

  // Hover and focus rings are styled by viz.css only, so they never show in an exported SVG; the selection ring
  // carries its own stroke and does.
  const ring = (cell: HeatmapCell, cls: string, inset: number, stroke?: string) => (
    <rect
      className={cls}
      x={cell.col * cw + inset} y={cell.row * ch + inset} width={cw - 2 * inset} height={ch - 2 * inset}
      fill="none" stroke={stroke} strokeWidth={stroke ? 2 : undefined}
    />
  );

  const gridLabel = o.ariaLabel ?? o.title ?? `${model.rowAxis} by ${model.colAxis}`;
  const tooltipCell = hover;

  // Tooltip to the right of the cell; to its left if that would leave the viewport; clamped as a last resort.
  // Fixed to the viewport (measured from the cell) so a figure that scrolls within itself does not clip it.
  const tip = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = tip.current;
    if (!el || !tooltipCell) return;
    const rect = grid.current?.querySelector<SVGRectElement>(`[data-row="${tooltipCell.row}"][data-col="${tooltipCell.col}"]`);
    if (!rect) return;
    const cellBox = rect.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    let x = cellBox.right + 6;
    if (x + box.width > vw - 4) x = Math.max(4, cellBox.left - 6 - box.width);
    const y = Math.max(4, Math.min(cellBox.top, vh - box.height - 4));
    el.style.left = `${x}px`;
    el.style.top = `${y}px`;
  }, [tooltipCell, left, cw]);

  return (
    <div className="pw-viz pw-heatmap" data-testid="heatmap" data-scale-max={model.scale.maxAbs}>
      <svg
        ref={svgRef}
        xmlns="http://www.w3.org/2000/svg"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        fontFamily={FONT}
        fontSize={11}
        fill="currentColor"
      >
        <defs><HatchPattern id={hatchId} /></defs>
        {o.title ? <text x={left} y={14} fontSize={13} fontWeight={600}>{o.title}</text> : null}
        {o.subtitle ? <text x={left} y={o.title ? 31 : 12} fill="#6b6b70">{o.subtitle}</text> : null}
        <g transform={`translate(${left},${top})`}>
          <g className="pw-axis pw-axis-rows" aria-hidden="true">
            {model.rowLabels.map((label, r) => (r % layout.rowLabelStride === 0 ? (
              <text key={r} x={-6} y={r * ch + ch / 2} dy="0.35em" textAnchor="end">
                {truncateLabel(label, o.maxLabelChars)}
              </text>
            ) : null))}
          </g>
          <g className="pw-axis pw-axis-cols" aria-hidden="true">
            {model.colLabels.map((label, c) => (c % layout.colLabelStride === 0 ? (
              layout.rotateColLabels ? (
                <text key={c} transform={`translate(${c * cw + cw / 2},-6) rotate(-90)`} dy="0.35em" textAnchor="start">
                  {truncateLabel(label, o.maxLabelChars)}
                </text>
              ) : (
                <text key={c} x={c * cw + cw / 2} y={-6} textAnchor="middle">{truncateLabel(label, o.maxLabelChars)}</text>
              )
            ) : null))}
          </g>
          <g
            ref={grid}
            role="grid"
            aria-label={gridLabel}
            aria-rowcount={model.nRows}
            aria-colcount={model.nCols}
            onKeyDown={onKeyDown}
            onClick={onClick}
            onMouseOver={(e) => setHover(cellFromEvent(e))}
            onMouseLeave={() => setHover(focused ? activeCell : null)}
            onFocus={(e) => { setFocused(true); const c = cellFromEvent(e); if (c) { setActive({ row: c.row, col: c.col }); setHover(c); } }}
            onBlur={() => { setFocused(false); setHover(null); }}
          >
            {Array.from({ length: model.nRows }, (_, r) => (
              <g role="row" key={r} aria-rowindex={r + 1}>
                {Array.from({ length: model.nCols }, (_, c) => {
                  const cell = model.cells[r * model.nCols + c];
                  if (!cell) return null;
                  const isActive = activeCell === cell;
                  const isSelected = selectedCell === cell;
                  return (
                    <rect
                      key={c}
                      className="pw-cell"
                      role="gridcell"
                      aria-colindex={c + 1}
                      aria-label={cell.label}
                      aria-selected={isSelected}
                      tabIndex={isActive ? 0 : -1}
                      data-testid="heatmap.cell"
                      data-row={r}
                      data-col={c}
                      data-computed={cell.computed ? 'true' : 'false'}
                      data-value={cell.value}
                      data-not-upstream={cell.notUpstream !== null ? 'true' : undefined}
                      data-metric-cell={model.metricCell === cell ? 'true' : undefined}
                      x={c * cw}
                      y={r * ch}
                      width={cw}
                      height={ch}
                      fill={cell.notUpstream !== null ? cell.colour : Number.isNaN(cell.value) ? `url(#${hatchId})` : cell.colour}
                      stroke="#fff"
                      strokeWidth={0.5}
                    />
                  );
                })}
              </g>
            ))}
          </g>
          <g className="pw-marks" aria-hidden="true" pointerEvents="none">
            {model.cells.map((cell) => (cell && cell.computed ? (
              <circle
                key={`${cell.row},${cell.col}`}
                cx={cell.col * cw + cw - 4} cy={cell.row * ch + 4} r={Math.min(2, cw / 8, ch / 8)}
                fill={contrastInk(cell.colour)}
              />
            ) : null))}
            {model.metricCell ? (
              <rect
                className="pw-metric-ring"
                x={model.metricCell.col * cw + 1} y={model.metricCell.row * ch + 1} width={cw - 2} height={ch - 2}
                fill="none" stroke="#d97706" strokeWidth={2} strokeDasharray="3 2"
              />
            ) : null}
            {hover ? ring(hover, 'pw-hover-ring', 0.5) : null}
            {focused && activeCell ? ring(activeCell, 'pw-focus-ring', 1) : null}
            {selectedCell ? ring(selectedCell, 'pw-selected-ring', 1, '#111') : null}
          </g>
          {o.legend ? (
            <ColourLegend
              scale={model.scale}
              x={0}
              y={layout.gridHeight + 20}
              caption={`${o.valueName ?? 'attribution'}${o.unit ? ` (${o.unit})` : ''}`}
              showNotComputed={hasNaN}
              hatchId={hatchId}
              showComputedDot={anyComputed}
              showNotUpstream={model.anyNotUpstream}
            />
          ) : null}
        </g>
      </svg>
      {tooltipCell ? (
        <div
          className="pw-tooltip"
          role="tooltip"
          data-testid="heatmap.tooltip"
          ref={tip}
          style={{ position: 'fixed', left: 0, top: 0 }}
        >
          <div className="pw-tooltip-target">{tooltipCell.target}</div>
          {model.metricCell === tooltipCell ? <div data-testid="heatmap.tooltip.metric">the metric is read here</div> : null}
          {tooltipCell.notUpstream !== null ? (
            <div data-testid="heatmap.tooltip.notUpstream">
              {notUpstreamText(tooltipCell.notUpstream)}: it cannot change the metric, so it has no value and does not patch
            </div>
          ) : (
            <>
              <div>
                {o.valueName ?? 'attribution'} <strong>{formatValue(tooltipCell.value)}</strong>
                {o.unit ? <span className="pw-unit"> {o.unit}</span> : null}
              </div>
              {sem ? (
                <div data-testid="heatmap.tooltip.sem">
                  ± <strong>{formatValue(sem.data[tooltipCell.index.reduce((acc, v, i) => acc * sem.shape[i] + v, 0)])}</strong> sem over pairs
                </div>
              ) : null}
              {patched ? (
                <div>
                  {o.patchedName ?? 'activation patch'}{' '}
                  {tooltipCell.computed
                    ? <strong>{formatValue(tooltipCell.patched)}</strong>
                    : <span className="pw-muted">not computed{onSelect ? ' (click to run)' : ''}</span>}
                </div>
              ) : null}
            </>
          )}
        </div>
      ) : null}
    </div>
  );
}
