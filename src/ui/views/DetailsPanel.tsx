// The selected cell: its target in TransformerLens names, the attribution estimate beside the exact activation
// patch, and how far apart they are. A column beside the views from 1440 px; below that a drawer that takes its
// room from the views only while open (so it never covers a figure); below 900 px stacked under the views.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { setDetailsOpen, useViewOptions } from './view-options';
import { describeTarget } from '../../viz/target';
import { formatPrecise } from '../format';
import { patchedFor, type RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { familyTitle, type Scale } from './common';
import { runEstimatorView } from './estimators/estimator-text';
import { PairSem } from './PairSem';
import { notUpstreamOf } from '../../state/metric-site';
import { notUpstreamText } from '../../viz/heatmap/heatmap-model';

/** Widths at which the panel becomes a drawer, and stacks under the views. */
export const DRAWER_BELOW = 1440;
export const STACK_BELOW = 900;

export function useMediaQuery(query: string): boolean {
  const get = () => typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia(query).matches;
  const [matches, setMatches] = useState(get);
  useEffect(() => {
    const m = window.matchMedia(query);
    const on = () => setMatches(m.matches);
    on();
    m.addEventListener('change', on);
    return () => m.removeEventListener('change', on);
  }, [query]);
  return matches;
}

export function DetailsPanel({ run, scale }: { run: RunResult; scale: Scale }) {
  const selected = useStore((s) => s.selected);
  const narrow = useMediaQuery(`(max-width: ${DRAWER_BELOW - 0.02}px)`);
  const stacked = useMediaQuery(`(max-width: ${STACK_BELOW - 0.02}px)`);
  const choice = useViewOptions((s) => s.detailsOpen);
  const drawer = narrow && !stacked;
  // Unless the user chose, the drawer opens while a cell is selected: clicking a cell shows its exact patch.
  const open = !drawer || (choice ?? selected !== null);
  const bodyId = useId();
  const toggle = useRef<HTMLButtonElement>(null);
  return (
    <aside
      className={`pw-details${drawer ? ' pw-details-drawer' : ''}${open ? '' : ' pw-details-collapsed'}`}
      aria-label="Selected cell"
      data-testid="details"
      data-layout={stacked ? 'stacked' : drawer ? 'drawer' : 'column'}
      onKeyDown={(e) => {
        if (drawer && open && e.key === 'Escape') {
          setDetailsOpen(false);
          toggle.current?.focus();
        }
      }}
    >
      {drawer ? (
        <button
          ref={toggle}
          type="button"
          className="pw-details-toggle"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => setDetailsOpen(!open)}
          data-testid="details.toggle"
          title={open ? 'Hide the selected cell panel (Esc)' : 'Show the selected cell panel'}
        >
          {open ? 'Hide ▸' : '◂ Selected cell'}
        </button>
      ) : null}
      {open ? <div id={bodyId} className="pw-details-body"><DetailsBody run={run} scale={scale} /></div> : null}
    </aside>
  );
}

function DetailsBody({ run, scale }: { run: RunResult; scale: Scale }): ReactNode {
  const selected = useStore((s) => s.selected);
  const pending = useStore((s) => s.pendingCell);
  const error = useStore((s) => s.cellError);
  if (!selected) {
    return (
      <>
        <h3>Selected cell</h3>
        <p className="pw-muted">Click a cell (or focus it and press Enter) to run its exact activation patch.</p>
        {error ? <p className="pw-error" role="alert">{error}</p> : null}
      </>
    );
  }
  const { family, index } = selected;
  const a = run.attribution[family];
  const p = patchedFor(run, family);
  if (!a || !p) return null;
  const flat = index.reduce((acc, v, i) => acc * a.shape[i] + v, 0);
  const attr = a.data[flat] * scale.k;
  const act = p.data[flat] * scale.k;
  const isPending = pending === `${family}:${index.join(',')}`;
  const computed = !Number.isNaN(act);
  const blocked = notUpstreamOf(run.spec.metric)?.(family, index) ?? null;
  if (blocked !== null) {
    return (
      <>
        <h3>Selected cell</h3>
        <p className="pw-muted">{familyTitle(family)}</p>
        <p className="pw-target" data-testid="details.target">{describeTarget(a.axes, index, { family, tokens: run.tokens })}</p>
        <p data-testid="details.notUpstream">
          This cell is {notUpstreamText(blocked)}: it is the metric&apos;s own activation or computed after it, so
          patching it cannot change the metric. It has no estimate and no activation patch (not a 0), and clicking it
          runs nothing.
        </p>
      </>
    );
  }
  return (
    <>
      <h3>Selected cell</h3>
      <p className="pw-muted">{familyTitle(family)}</p>
      <p className="pw-target" data-testid="details.target">{describeTarget(a.axes, index, { family, tokens: run.tokens })}</p>
      <dl>
        <dt data-testid="details.estimator">{run.method && run.method !== 'atp' ? `${runEstimatorView(run).valueName}` : 'Attribution (estimate)'}</dt>
        <dd data-testid="details.attribution" data-value={attr}>{formatPrecise(attr)} <span className="pw-unit">{scale.unit}</span></dd>
        <PairSem run={run} family={family} flat={flat} scale={scale} />
        <dt>Activation patch (exact)</dt>
        <dd data-testid="details.activation" data-value={computed ? act : ''} aria-busy={isPending}>
          {computed ? <>{formatPrecise(act)} <span className="pw-unit">{scale.unit}</span></> : isPending ? 'computing…' : 'not computed'}
        </dd>
        {computed ? (
          <>
            <dt>Estimate − exact</dt>
            <dd data-testid="details.error">{formatPrecise(attr - act)}</dd>
          </>
        ) : null}
      </dl>
      {error ? <p className="pw-error" role="alert">{error}</p> : null}
      <p className="pw-muted pw-small-text">
        {run.spec.direction === 'denoising' ? 'Denoising: clean activation patched into the corrupted run.' : 'Noising: corrupted activation patched into the clean run.'}
        {' '}Values are changes of the metric relative to {run.onTop?.length ? 'the base run with the patch set patched (see the banner)' : 'the unpatched base run'}
        {run.spec.direction === 'denoising' ? ' (corrupted prompt)' : ' (clean prompt)'}{scale.normalised ? ', divided by (clean − corrupted)' : ''}.
      </p>
    </>
  );
}
