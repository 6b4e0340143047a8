// Attribution (x) vs activation patch (y) for one family, one point per target whose activation patch is computed.
// plotly.js is ~1 MB minified, so it is imported on first render, not with the main bundle.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { PlotlyHTMLElement, PlotMouseEvent } from 'plotly.js';
import type { Labelled } from '../../engine/patching/types';
import { unravel } from '../labelled';
import { defaults, scatterModel, type ScatterOptions } from './scatter-model';
import '../viz.css';

export { defaults };
export type { ScatterOptions };

export interface ScatterProps {
  /** Attribution per target (x). */
  x: Labelled;
  /** Activation patch per target (y), same layout; NaN where not computed (those targets are left out). */
  y: Labelled;
  options?: Partial<ScatterOptions>;
  selected?: readonly number[] | null;
  onSelect?: (index: number[]) => void;
}

type PlotlyModule = typeof import('plotly.js');

export function Scatter({ x, y, options, selected, onSelect }: ScatterProps) {
  const model = useMemo(
    () => scatterModel(x, y, options, selected),
    // Options compared by value, so an inline object does not rebuild the figure on every render.
    [x, y, JSON.stringify(options), selected?.join(',')],
  );
  const el = useRef<HTMLDivElement>(null);
  const plotly = useRef<PlotlyModule | null>(null);
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;
  const shape = useRef(x.shape);
  shape.current = x.shape;
  const [status, setStatus] = useState<'loading' | 'ready' | 'error'>('loading');
  const show = model.points.length >= 2;

  useEffect(() => {
    if (!show) return;
    let cancelled = false;
    import('plotly.js-dist-min')
      .then((m) => {
        const div = el.current;
        if (cancelled || !div) return;
        const P = m.default;
        const first = plotly.current === null;
        plotly.current = P;
        return P.react(div, model.data, model.layout, model.config).then((gd: PlotlyHTMLElement) => {
          if (first) {
            gd.on('plotly_click', (ev: PlotMouseEvent) => {
              const pt = ev.points.find((p) => p.curveNumber === 0);
              if (pt && typeof pt.customdata === 'number') onSelectRef.current?.(unravel(shape.current, pt.customdata));
            });
          }
          if (!cancelled) setStatus('ready');
        });
      })
      .catch(() => { if (!cancelled) setStatus('error'); });
    return () => { cancelled = true; };
  }, [model, show]);

  // Purge on unmount (or when the plot is replaced by the "not enough points" message): frees WebGL/DOM and listeners.
  useEffect(() => {
    if (!show) return;
    const div = el.current;
    return () => {
      if (div && plotly.current) plotly.current.purge(div);
      plotly.current = null;
    };
  }, [show]);

  if (!show) {
    return (
      <div className="pw-viz pw-scatter" data-testid="scatter">
        <p className="pw-empty" role="status" data-testid="scatter.empty">{model.title}</p>
      </div>
    );
  }
  return (
    <div className="pw-viz pw-scatter" data-testid="scatter">
      <span className="pw-sr-only" role="status" data-testid="scatter.title">{model.title}</span>
      {status === 'loading' ? <p className="pw-empty">Loading plot…</p> : null}
      {status === 'error' ? <p className="pw-empty" role="alert">The plotting library failed to load.</p> : null}
      <div ref={el} data-testid="scatter.plot" aria-label={`Scatter of ${model.points.length} targets. ${model.title}`} />
    </div>
  );
}
