// The Inspect tab (issue 14): what a researcher checks before trusting a patch, at the metric position of the pair on
// screen. Top-5 next tokens of the clean and corrupted prompt, direct logit attribution of every head, MLP and the
// embeddings (with the biases, summing to the logit difference), and the logit lens (top tokens of the accumulated
// residual stream after each layer). Every number carries its full value in data-value for tests and exports.
import { useEffect, useMemo } from 'react';
import { displayToken, VOCAB_SIZE } from '../../../engine/model/tokenizer';
import type { DirectLogitAttribution, Inspection, TokenScore } from '../../../engine/patching/inspect';
import { computeInspection, getInspection, setDlaRun, setLensPair, useInspect } from '../../../state/actions/inspect';
import type { RunResult } from '../../../state/results';
import { divergingScale } from '../../../viz/colour';
import { METRIC_UNIT } from '../common';
import { dlaRows, dlaSum, dlaTarget } from './dla-rows';
import './inspect.css';

const tokenText = (id: number) => (id < VOCAB_SIZE ? displayToken(id) : `#${id}`);
const fmt = (v: number, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

export function InspectView({ run }: { run: RunResult }) {
  const s = useInspect();
  useEffect(() => {
    void computeInspection();
  }, [run]);
  const value = s.status === 'done' ? getInspection(s.key) : undefined;
  return (
    <div className="pw-inspect" data-testid="view.inspect">
      <p className="pw-muted">
        At the metric position of the {run.spec.pairs.length > 1 ? 'chosen pair' : 'pair'} on screen: what the model predicts, which
        components write the answer directly (direct logit attribution, TransformerLens&apos;s decompose_resid with
        ln_final&apos;s scale from the run), and what the residual stream already predicts after each layer (logit lens).
        {run.onTop ? ' Computed on the unpatched prompts, not on the run with cells patched on top.' : ''}
      </p>
      {run.spec.pairs.length > 1 ? (
        <label className="pw-toggle">
          Pair for top-5 and logit lens{' '}
          <select value={s.lensPair} onChange={(e) => setLensPair(Number(e.target.value))} data-testid="inspect.pair">
            {run.spec.pairs.map((_, i) => <option key={i} value={i}>{i + 1}</option>)}
          </select>
          <span className="pw-muted"> (direct logit attribution: mean over the {run.spec.pairs.length} pairs)</span>
        </label>
      ) : null}
      {s.status === 'computing' ? <p className="pw-empty" role="status">Inspecting…</p> : null}
      {s.status === 'error' ? <p className="pw-error" role="alert" data-testid="inspect.error">{s.error}</p> : null}
      {value ? <InspectBody run={run} value={value} dlaRun={s.dlaRun} /> : null}
    </div>
  );
}

function InspectBody({ run, value, dlaRun }: { run: RunResult; value: Inspection; dlaRun: 'clean' | 'corrupted' }) {
  const pair = value.logitLens.pair;
  const p = run.spec.pairs[pair] ?? run.spec.pairs[0];
  const unit = METRIC_UNIT[run.spec.metric.name] ?? 'metric';
  return (
    <div className="pw-inspect-body" data-position={value.position}>
      <section className="pw-inspect-top" aria-label="Top-5 next tokens">
        <h3>Top 5 next tokens at position {value.position}</h3>
        <div className="pw-inspect-pair">
          <TopTable which="clean" prompt={p.clean} list={value.predictions.clean[pair]} />
          <TopTable which="corrupted" prompt={p.corrupted} list={value.predictions.corrupted[pair]} />
        </div>
      </section>
      <DlaTable run={run} value={value} dlaRun={dlaRun} unit={unit} />
      <LogitLens value={value} />
    </div>
  );
}

function TopTable({ which, prompt, list }: { which: 'clean' | 'corrupted'; prompt: string; list: TokenScore[] }) {
  return (
    <table className="pw-inspect-table" data-testid={`inspect.top.${which}`}>
      <caption>
        {which} prompt <span className="pw-muted pw-inspect-prompt" title={prompt}>“{prompt}”</span>
      </caption>
      <thead><tr><th scope="col">#</th><th scope="col">token</th><th scope="col">prob</th><th scope="col">logit</th></tr></thead>
      <tbody>
        {list.map((t, i) => (
          <tr key={t.id} data-testid="inspect.top.row" data-id={t.id} data-prob={t.prob} data-logit={t.logit}>
            <td>{i + 1}</td>
            <td><code title={`id ${t.id}`}>{tokenText(t.id)}</code></td>
            <td>
              <span className="pw-inspect-prob" style={{ width: `${Math.round(60 * t.prob)}px` }} aria-hidden="true" />
              {(100 * t.prob).toFixed(2)}%
            </td>
            <td>{fmt(t.logit, 3)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DlaTable({ run, value, dlaRun, unit }: { run: RunResult; value: Inspection; dlaRun: 'clean' | 'corrupted'; unit: string }) {
  const d: DirectLogitAttribution = value.dla[dlaRun];
  const rows = useMemo(() => dlaRows(d), [d]);
  const sum = dlaSum(rows);
  const max = rows.reduce((m, r) => Math.max(m, Math.abs(r.value)), 0);
  const colour = divergingScale(max);
  const metric = run.spec.metric.name;
  const p0 = run.spec.pairs[0];
  const target = dlaTarget(metric, run.spec.pairs.length > 1 ? 'answer' : p0.answer, run.spec.pairs.length > 1 ? 'wrong' : p0.wrong);
  const metricValue = value.metric[dlaRun];
  return (
    <section className="pw-inspect-dla" aria-label="Direct logit attribution" data-testid="inspect.dla" data-run={dlaRun}>
      <h3>Direct logit attribution at position {value.position}</h3>
      <div className="pw-segmented" role="radiogroup" aria-label="Run whose components are shown">
        {(['clean', 'corrupted'] as const).map((w) => (
          <label key={w}>
            <input type="radio" checked={dlaRun === w} onChange={() => setDlaRun(w)} data-testid={`inspect.dla.run.${w}`} />
            {w} run
          </label>
        ))}
      </div>
      <p className="pw-inspect-sum" data-testid="inspect.dla.sum" data-sum={sum} data-metric={metricValue} data-total={d.total}>
        Sum of the {rows.length} components: <strong>{fmt(sum)}</strong> = {target}
        {metric === 'logit_diff'
          ? <> = the {dlaRun} metric <strong>{fmt(metricValue)}</strong> {unit}{run.spec.pairs.length > 1 ? ' (mean over pairs)' : ''}</>
          : <> (the {metric} metric, {fmt(metricValue)}, is not linear in the residual stream, so the components sum to the answer&apos;s logit)</>}
      </p>
      <div className="pw-inspect-scroll">
        <table className="pw-inspect-table pw-inspect-dla-table">
          <thead><tr><th scope="col">component</th><th scope="col">{unit === 'logit diff' ? 'logit diff' : 'logits'}</th><th scope="col" aria-label="bar" /></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name} data-testid="inspect.dla.row" data-name={r.name} data-value={r.value}>
                <th scope="row">{r.name}</th>
                <td>{fmt(r.value)}</td>
                <td className="pw-inspect-bar-cell">
                  <span
                    className={`pw-inspect-bar ${r.value < 0 ? 'pw-neg' : 'pw-pos'}`}
                    style={{ width: `${max > 0 ? (50 * Math.abs(r.value)) / max : 0}%`, background: colour(r.value) }}
                    aria-hidden="true"
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function LogitLens({ value }: { value: Inspection }) {
  const lens = value.logitLens;
  const label = (h: string, i: number) => (i === 0 ? 'embeddings (resid_pre 0)' : `after layer ${i - 1}`);
  return (
    <section className="pw-inspect-lens" aria-label="Logit lens" data-testid="inspect.lens">
      <h3>Logit lens at position {value.position}</h3>
      <p className="pw-muted">Each row: the accumulated residual stream through ln_final (its own scale) and the unembedding; the last row is the model&apos;s prediction.</p>
      <div className="pw-inspect-scroll">
        <table className="pw-inspect-table">
          <thead><tr><th scope="col">residual</th><th scope="col">clean: top 5</th><th scope="col">corrupted: top 5</th></tr></thead>
          <tbody>
            {lens.hooks.map((h, i) => (
              <tr key={h} data-testid="inspect.lens.row" data-layer={i} data-hook={h}>
                <th scope="row" title={h}>{label(h, i)}</th>
                {(['clean', 'corrupted'] as const).map((w) => (
                  <td key={w} data-testid={`inspect.lens.${w}`} data-ids={lens[w][i].map((t) => t.id).join(',')}>
                    {lens[w][i].map((t) => (
                      <code key={t.id} className="pw-inspect-token" title={`id ${t.id} · p ${(100 * t.prob).toFixed(2)}%`}>{tokenText(t.id)}</code>
                    ))}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
