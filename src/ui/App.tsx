// Layout: a header (backend, link), the model and experiment on the left, the views on the right with the
// selected cell's details beside them.
import { useEffect, useState } from 'react';
import {
  cancelSweep, confirmRedirect, declineRedirect, dismissNotice, hasHead, setNormalised, setTab, switchBackend, sweep,
} from '../state/actions';
import { currentFragment, declinePendingLink, openLink, syncFragment } from '../state/link';
import { getState, useStore, type ViewTab } from '../state/store';
import { loadDefault } from './boot';
import { ExperimentEditor } from './editor/ExperimentEditor';
import { applyDefaultPresetIfNeeded } from './editor/preset-switch';
import { ModelPanel } from './model/ModelPanel';
import { ErrorBoundary } from './ErrorBoundary';
import { useInjectedFault } from './faults';
import { useRun, useScale, useStaleness, type Scale } from './views/common';
import { DetailsPanel } from './views/DetailsPanel';
import { AttentionView, HeadsView, ResidualView, ScatterView, viewSweepTargets } from './views/ResultViews';
import type { BackendChoice } from '../worker/protocol';
import { rankHeads } from '../viz/attention/attention-model';
import type { RunResult } from '../state/results';
import { CircuitView } from './views/circuit/CircuitView';
import { InspectView } from './views/inspect/InspectView';
import { NeuronsView } from './views/neurons/NeuronsView';
import { OnTopBanner, PatchSetBar } from './views/PatchSetBar';
import { EstimatorSelector } from './views/estimators/EstimatorSelector';
import { runEstimatorView } from './views/estimators/estimator-text';
import { VerifyControls, VerifySummary } from './views/estimators/VerifyTopK';
import { Progress } from './Progress';
import { PairSelector } from './views/PairSelector';
import { PairsTable } from './views/PairsTable';

const TABS: { id: ViewTab; label: string }[] = [
  { id: 'residual', label: 'Layer × position' },
  { id: 'heads', label: 'Layer × head' },
  { id: 'scatter', label: 'Attribution vs patch' },
  { id: 'attention', label: 'Attention' },
  { id: 'circuit', label: 'Circuit' },
  { id: 'inspect', label: 'Inspect' },
  { id: 'neurons', label: 'Neurons' },
];

export function App() {
  return (
    <div className="pw-app">
      <Header />
      <Notice />
      <PendingLink />
      <PendingRedirect />
      <main className="pw-main">
        <div className="pw-side">
          <ErrorBoundary what="The model panel"><ModelPanel /></ErrorBoundary>
          <ErrorBoundary what="The experiment editor"><ExperimentEditor /></ErrorBoundary>
          <ErrorBoundary what="The estimator selector"><EstimatorSelector /></ErrorBoundary>
        </div>
        <ErrorBoundary what="The results"><Results /></ErrorBoundary>
      </main>
    </div>
  );
}

function Header() {
  const backend = useStore((s) => s.backend);
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    const { fragment, error, warning } = currentFragment();
    if (!fragment) {
      setCopied(error ?? 'Could not make a link.');
      return;
    }
    const url = `${location.origin}${location.pathname}${location.search}${fragment}`;
    try {
      history.replaceState(history.state, '', fragment);
    } catch { /* ignore */ }
    try {
      await navigator.clipboard.writeText(url);
      setCopied(warning ?? 'Link copied.');
    } catch {
      // Clipboard permission denied (or an insecure context): the address bar holds the link.
      setCopied(warning ?? 'The link is in the address bar (the clipboard was not available).');
    }
    window.setTimeout(() => setCopied(null), 6000);
  };
  return (
    <header className="pw-header">
      <h1>Patchwork</h1>
      <span className="pw-muted pw-tagline">attribution &amp; activation patching on GPT-2, in your browser</span>
      <span className="pw-spacer" />
      <label className="pw-backend" title="Where the model runs. WebGPU uses the GPU; wasm runs on the CPU in every browser.">
        <span>Backend</span>
        <strong data-testid="backend.active">{backend.active === 'webgpu' ? 'WebGPU' : backend.active === 'wasm' ? 'wasm' : '…'}</strong>
        <BackendThreads />
        <select
          aria-label="Backend"
          value={backend.choice}
          onChange={(e) => void switchBackend(e.target.value as BackendChoice)}
          data-testid="backend.switch"
        >
          <option value="auto">auto</option>
          <option value="webgpu" disabled={backend.webgpu === false}>WebGPU{backend.webgpu === false ? ' (unavailable)' : ''}</option>
          <option value="wasm">wasm</option>
        </select>
      </label>
      <button type="button" onClick={() => void copy()} data-testid="permalink.copy">Copy link</button>
      {copied ? <span className="pw-toast" role="status" data-testid="permalink.status">{copied}</span> : null}
    </header>
  );
}

/** wasm's thread count beside the backend; one thread on a page that is not cross-origin isolated says why. */
function BackendThreads() {
  const { active, threads, isolated } = useStore((s) => s.backend);
  if (active !== 'wasm' || threads === null) return null;
  const why = isolated
    ? 'onnxruntime-web runs wasm on this many threads (all cores up to 8; ?threads=N in the address sets it).'
    : 'One thread: this page is not cross-origin isolated, so the browser gives wasm no shared memory for threads (README, Deploying).';
  return <span className="pw-muted" title={why} data-testid="backend.threads">{threads} thread{threads === 1 ? '' : 's'}</span>;
}

function Notice() {
  const notice = useStore((s) => s.notice);
  if (!notice) return null;
  return (
    <div className={`pw-notice pw-notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid="notice">
      <span>{notice.text}</span>
      <button type="button" className="pw-small" aria-label="Dismiss" onClick={dismissNotice}>×</button>
    </div>
  );
}

function PendingLink() {
  const pending = useStore((s) => s.pendingLink);
  if (!pending || pending.model.kind !== 'url') return null;
  return (
    <div className="pw-notice pw-notice-info" role="alertdialog" aria-label="Load a model from this link?" data-testid="permalink.confirm">
      <span>
        This link asks to download a model from <code>{pending.model.url}</code>. Only continue if you trust that address.
      </span>
      <button type="button" onClick={() => void openLink(pending, true)} data-testid="permalink.confirm.yes">Download and open</button>
      <button type="button" onClick={declineLink} data-testid="permalink.confirm.no">Don’t load</button>
    </div>
  );
}

/** Declining changes nothing the user has; only a page that has no model yet gets the default one. */
function declineLink() {
  declinePendingLink();
  if (getState().model.status === 'idle') void loadDefault();
}

function PendingRedirect() {
  const pending = useStore((s) => s.pendingRedirect);
  if (!pending) return null;
  return (
    <div className="pw-notice pw-notice-info" role="alertdialog" aria-label="Load the model from another origin?" data-testid="model.redirect.confirm">
      <span>
        <code>{pending.from}</code> sends the model’s files to another origin, <code data-testid="model.redirect.to">{pending.to}</code>.
        Nothing was loaded from it. Only continue if you trust that origin too.
      </span>
      <button
        type="button"
        onClick={() => void confirmRedirect().then((ok) => { if (ok) applyDefaultPresetIfNeeded(pending.choice); })}
        data-testid="model.redirect.yes"
      >Load from {pending.to}</button>
      <button type="button" onClick={declineRedirect} data-testid="model.redirect.no">Don’t load</button>
    </div>
  );
}

function Results() {
  const run = useRun();
  const scale = useScale(run);
  const view = useStore((s) => s.view);
  const runStatus = useStore((s) => s.run.status);
  const sweepState = useStore((s) => s.sweep);
  const selected = useStore((s) => s.selected);
  const stale = useStaleness(run);
  const presetId = useStore((s) => s.presetId);

  // The fragment follows the experiment on screen, so the address bar is always a working link.
  useEffect(() => {
    if (run) syncFragment();
  }, [run, view.tab, view.family, view.normalised, view.head, view.attentionMode, view.perPosition, selected]);

  const sweepHead = run ? (view.head && hasHead(run, view.head) ? view.head : rankedHead(run)) : null;
  const targets = run && !(view.tab === 'attention' && view.attentionMode === 'clean')
    ? viewSweepTargets(run, view.tab, view.perPosition, sweepHead) : [];
  const sweepLabel = view.tab === 'attention' && sweepHead ? `Patch every cell of L${sweepHead.layer}H${sweepHead.head}` : 'Patch every cell';

  return (
    <section className="pw-results" aria-label="Results">
      <div className="pw-toolbar">
        <div role="tablist" aria-label="Views" className="pw-tabs">
          {TABS.map((t) => (
            <button key={t.id} type="button" role="tab" aria-selected={view.tab === t.id} onClick={() => setTab(t.id)} data-testid={`tab.${t.id}`}>
              {t.label}
            </button>
          ))}
        </div>
        <label className="pw-toggle" title="Divide by (clean metric − corrupted metric): 0 = corrupted, 1 = fully restored">
          <input
            type="checkbox"
            checked={view.normalised}
            onChange={(e) => setNormalised(e.target.checked)}
            data-testid="view.normalised"
          />
          normalised
        </label>
        {run && targets.length ? (
          <button type="button" disabled={!!sweepState} onClick={() => void sweep(targets, `this view (${TABS.find((t) => t.id === view.tab)!.label})`)} data-testid="sweep.start">
            {sweepLabel}
          </button>
        ) : null}
        {sweepState ? (
          <Progress id="sweep" label="Activation patching sweep" done={sweepState.done} total={sweepState.total} onCancel={cancelSweep} />
        ) : null}
        {run && targets.length ? (
          <VerifyControls run={run} families={targets.map((t) => t.family)} label={`this view (${TABS.find((t) => t.id === view.tab)!.label})`} />
        ) : null}
        {run ? (
          <span className="pw-muted" data-testid="run.estimator" data-method={run.method ?? 'atp'}>
            estimator: {runEstimatorView(run).label}{runEstimatorView(run).sequential ? ' (magnitudes)' : ''}
          </span>
        ) : null}
        {run ? <PairSelector run={run} /> : null}
        {run ? (
          <span className="pw-muted pw-metric" data-testid="run.metric">
            {run.spec.metric.name}: clean {run.metric.clean.toFixed(3)} · corrupted {run.metric.corrupted.toFixed(3)} · {run.spec.direction}
          </span>
        ) : null}
      </div>
      {run ? <VerifySummary run={run} scale={scale} /> : null}
      {run && stale ? <p className="pw-warning" role="status" data-testid="results.stale">{stale}</p> : null}
      {run ? <OnTopBanner run={run} /> : null}
      {run ? <PatchSetBar /> : null}
      {scale.warning && view.normalised ? <p className="pw-warning" role="alert" data-testid="view.normaliser.warning">{scale.warning}</p> : null}
      {!run ? (
        <div className="pw-empty-state" data-testid="results.empty">
          {runStatus === 'running' ? <p>Computing attribution…</p> : (
            <>
              <p data-testid="results.empty.next">
                {presetId
                  ? <>The preset’s prompts are in the editor: press <strong>Run</strong> (or edit them first).</>
                  : <>Pick a preset or type a clean and a corrupted prompt, then press <strong>Run</strong>.</>}
              </p>
              <p className="pw-muted">
                Attribution patching estimates every activation patch at once from two forward passes and one backward
                pass; click any cell to run the real patch beside it.
              </p>
            </>
          )}
        </div>
      ) : (
        <div className={`pw-view-row${runStatus === 'running' || stale ? ' pw-stale' : ''}`} data-stale={stale ? 'true' : undefined}>
          <div className="pw-view" role="tabpanel">
            <ErrorBoundary what={`The ${TABS.find((t) => t.id === view.tab)!.label} view`} resetKey={`${view.tab}:${run.id}`}>
              <ViewBody tab={view.tab} run={run} scale={scale} />
            </ErrorBoundary>
          </div>
          <ErrorBoundary what="The selected cell panel" resetKey={run.id}>
            <DetailsPanel run={run} scale={scale} />
          </ErrorBoundary>
        </div>
      )}
      {run?.pairs ? <ErrorBoundary what="The pairs table" resetKey={run.id}><PairsTable run={run} /></ErrorBoundary> : null}
    </section>
  );
}

function ViewBody({ tab, run, scale }: { tab: ViewTab; run: RunResult; scale: Scale }) {
  useInjectedFault(`view.${tab}`);
  if (tab === 'residual') return <ResidualView run={run} scale={scale} />;
  if (tab === 'heads') return <HeadsView run={run} scale={scale} />;
  if (tab === 'scatter') return <ScatterView run={run} scale={scale} />;
  if (tab === 'circuit') return <CircuitView run={run} />;
  if (tab === 'inspect') return <InspectView run={run} />;
  if (tab === 'neurons') return <NeuronsView run={run} scale={scale} />;
  return <AttentionView run={run} scale={scale} />;
}

function rankedHead(run: RunResult): { layer: number; head: number } | null {
  const l = run.attribution.pattern_by_pos;
  if (!l) return null;
  const top = rankHeads(l)[0];
  return top ? { layer: top.layer, head: top.head } : null;
}
