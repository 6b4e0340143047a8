// Experiment editor: presets, prompt pairs (one shown at a time, so each field has one accessible name), token
// chips, metric, direction, options and Run. Validation runs as you type, with the engine's own messages.
import { useId, useMemo, useState } from 'react';
import type { InputIssue } from '../../engine/patching/experiment';
import type { ExperimentSpec, MetricName, MetricSite } from '../../engine/patching/types';
import { cancelRun, run, setSpec, validate } from '../../state/actions';
import { getRun } from '../../state/results';
import { presetKind } from '../../state/models';
import { useStore } from '../../state/store';
import { formatMs } from '../format';
import { presetById, presetModel, presetsFor, PRESETS, type Preset } from '../presets';
import { modelLabel } from '../../state/models';
import { pairWarnings } from './pair-warnings';
import { applyPreset, switchToPresetModel } from './preset-switch';
import { TokenChips } from './TokenChips';
import { DatasetImport } from './DatasetImport';
import { MetricSitePicker } from './MetricSitePicker';
import { isInternalMetric } from '../../engine/patching/metric-spec';
import { tokenize } from '../../engine/model/tokenizer';
import type { GPT2Config } from '../../engine/model/types';
import { defaultSite } from '../../state/metric-site';

const METRIC_TEXT: Record<MetricName, string> = {
  logit_diff: 'logit difference: logit(answer) − logit(wrong)',
  logprob: 'log probability of the answer',
  prob: 'probability of the answer',
  logit: 'logit of the answer',
  basket: 'answer vs a basket: logit(answer) − logsumexp(basket)',
  mean_logprob: 'mean log probability of the clean continuation at chosen positions',
  kl: 'KL divergence of the next-token distribution from the clean run’s',
  attn: 'attention probability of a head from query q to key k',
  prefix: 'a head’s prefix-matching score',
  neuron: 'activation of an MLP neuron at a position',
  dla: 'direct logit attribution of a head (answer − wrong)',
};

type Field = 'clean' | 'corrupted' | 'answer' | 'wrong';

/** Metrics on an activation other than the logits: no answer token. */
const READS_NO_ANSWER: ReadonlySet<MetricName> = new Set<MetricName>(['attn', 'prefix', 'neuron']);

export function ExperimentEditor() {
  const spec = useStore((s) => s.spec);
  const presetId = useStore((s) => s.presetId);
  const modelChoice = useStore((s) => s.model.choice);
  const modelReady = useStore((s) => s.model.status === 'ready');
  const modelStatus = useStore((s) => s.model.status);
  /** A preset for another model, picked from the list: offered with its model before anything is replaced. */
  const [offer, setOffer] = useState<Preset | null>(null);
  const config = useStore((s) => s.model.config);
  const trainedVocab = useStore((s) => s.model.trainedVocab);
  const trained = useMemo(() => (trainedVocab ? new Set(trainedVocab) : null), [trainedVocab]);
  const runState = useStore((s) => s.run);
  const storeIssues = useStore((s) => s.issues);
  const [pairIndex, setPairIndex] = useState(0);
  const [attempted, setAttempted] = useState(false);
  const ids = { clean: useId(), corrupted: useId(), answer: useId(), wrong: useId(), metric: useId() };

  const pi = Math.min(pairIndex, spec.pairs.length - 1);
  const pair = spec.pairs[pi];
  const answers = useMemo(
    () => (spec.metric.name === 'logit_diff' ? [pair.answer, pair.wrong] : [pair.answer]),
    [pair.answer, pair.wrong, spec.metric.name],
  );
  const checked = useMemo(() => (config ? validate(spec) : null), [spec, config]);
  // The prompt's tokens, for the internal metrics' position lists (issue 13).
  const cleanTokens = useMemo(() => tokenize(pair.clean, { prependBos: spec.prependBos }).display, [pair.clean, spec.prependBos]);
  const live = checked?.issues ?? [];
  // Until Run is pressed, an empty field is not an error yet: the user is still typing.
  const blank = (i: InputIssue) => {
    const p = i.pair !== undefined ? spec.pairs[i.pair] : undefined;
    return !!p && (i.field === 'clean' || i.field === 'corrupted' || i.field === 'answer' || i.field === 'wrong') && p[i.field].trim() === '';
  };
  const issues = dedupe([...live.filter((i) => attempted || !blank(i)), ...(attempted ? storeIssues : [])]);
  const issuesFor = (field: string, pair?: number) => issues.filter((i) => i.field === field && (pair === undefined || i.pair === pair || i.pair === undefined));

  const update = (f: (s: ExperimentSpec) => ExperimentSpec) => setSpec(f(structuredClone(spec)), presetId && isPresetSpec(f(structuredClone(spec)), presetId) ? presetId : null);
  const setField = (field: Field, value: string) => update((s) => {
    s.pairs[pi] = { ...s.pairs[pi], [field]: value };
    return s;
  });

  // A link or a hand edit back to a preset's prompts still shows that preset's "look for" line.
  const preset = presetById(presetId ?? '') ?? PRESETS.find((p) => isPresetSpec(spec, p.id));
  const kind = presetKind(modelChoice);
  const presets = presetsFor(kind);
  const others = PRESETS.filter((p) => p.kind !== kind);

  const onRun = () => {
    setAttempted(true);
    void run();
  };

  // Inputs that run but can only give zeros (identical prompts, answer == wrong) are said before Run (issue 14).
  const warnings = useMemo(() => pairWarnings(spec), [spec]);
  const fieldIssues = (field: Field) => issuesFor(field, pi);
  const shownInline = (i: InputIssue) =>
    ((i.field === 'clean' || i.field === 'corrupted' || i.field === 'answer' || i.field === 'wrong') && (i.pair === pi || i.pair === undefined)
      && !(i.field === 'wrong' && spec.metric.name !== 'logit_diff' && spec.metric.name !== 'dla')
      && !((i.field === 'answer' || i.field === 'wrong') && READS_NO_ANSWER.has(spec.metric.name)))
    || i.field === 'basket' || i.field === 'positions' || i.field === 'metric';
  const describedBy = (field: Field) => (fieldIssues(field).length ? `${ids[field]}-issues` : undefined);
  // Props shared by the prompt textareas and the answer inputs.
  const shared = (field: Field) => ({
    id: ids[field],
    value: pair[field],
    'aria-invalid': fieldIssues(field).length > 0,
    'aria-describedby': describedBy(field),
    'data-testid': `experiment.${field}`,
    spellCheck: false,
  });
  const fieldInput = (field: Field, label: string, multiline: boolean) => (
    <div className={`pw-field pw-field-${field}`}>
      <label htmlFor={ids[field]}>{label}</label>
      {multiline ? (
        <textarea
          {...shared(field)}
          rows={2}
          onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onRun(); } }}
          onChange={(e) => setField(field, e.target.value)}
        />
      ) : (
        <input {...shared(field)} onChange={(e) => setField(field, e.target.value)} />
      )}
      {fieldIssues(field).length ? (
        <ul className="pw-issues" id={`${ids[field]}-issues`} data-testid={`experiment.issue.${field}`}>
          {fieldIssues(field).map((i, k) => <li key={k}>{i.message}</li>)}
        </ul>
      ) : null}
    </div>
  );

  return (
    <section className="pw-panel pw-editor" aria-labelledby="experiment-heading">
      <h2 id="experiment-heading">Experiment</h2>

      <div className="pw-presets" role="group" aria-label="Presets">
        {presets.map((p) => (
          <button key={p.id} type="button" aria-pressed={preset?.id === p.id} onClick={() => { setPairIndex(0); setAttempted(false); applyPreset(p); }} data-testid={`preset.${p.id}`}>
            {p.label}
          </button>
        ))}
        {others.length ? (
          <select
            aria-label="Presets for other models"
            value=""
            onChange={(e) => { const p = presetById(e.target.value); if (p) setOffer(p); }}
            data-testid="preset.others"
          >
            <option value="">Presets for other models…</option>
            {others.map((p) => <option key={p.id} value={p.id}>{p.label}</option>)}
          </select>
        ) : null}
      </div>
      {offer ? (
        <div className="pw-notice pw-notice-info pw-preset-offer" role="alertdialog" aria-label="Preset for another model" data-testid="preset.offer">
          <span>
            “{offer.label}” is made for {presetModel(offer).label}, and {modelLabel(modelChoice)} is loaded: on this model its
            prompts and the heads it names mean nothing.
          </span>
          <button
            type="button"
            onClick={() => { const p = offer; setOffer(null); setPairIndex(0); setAttempted(false); void switchToPresetModel(p); }}
            data-testid="preset.offer.switch"
          >Switch to {presetModel(offer).label}</button>
          <button
            type="button"
            onClick={() => { const p = offer; setOffer(null); setPairIndex(0); applyPreset(p); }}
            data-testid="preset.offer.anyway"
          >Use the prompts here anyway</button>
          <button type="button" className="pw-small" aria-label="Dismiss" onClick={() => setOffer(null)}>×</button>
        </div>
      ) : null}
      {preset ? (
        <p className="pw-lookfor" data-testid="preset.lookfor">
          {preset.kind !== kind ? (
            <strong className="pw-error" data-testid="preset.lookfor.other">Made for {presetModel(preset).label}, not the model loaded: </strong>
          ) : null}
          <strong>Look for:</strong> {preset.lookFor}
        </p>
      ) : null}

      <div className="pw-pairs" role="tablist" aria-label="Prompt pairs">
        {spec.pairs.map((_, i) => {
          const bad = issues.some((x) => x.pair === i);
          return (
            <button
              key={i}
              type="button"
              role="tab"
              aria-selected={i === pi}
              className={bad ? 'pw-tab-bad' : undefined}
              onClick={() => setPairIndex(i)}
              data-testid="experiment.pair"
            >
              {i + 1}{bad ? ' !' : ''}
            </button>
          );
        })}
        <button
          type="button"
          title="Add a prompt pair (a copy of this one)"
          disabled={spec.pairs.length >= 16}
          onClick={() => { update((s) => ({ ...s, pairs: [...s.pairs, { ...s.pairs[pi] }] })); setPairIndex(spec.pairs.length); }}
          data-testid="experiment.pair.add"
        >+ pair</button>
        {spec.pairs.length > 1 ? (
          <button
            type="button"
            title="Remove this pair"
            onClick={() => { update((s) => ({ ...s, pairs: s.pairs.filter((__, i) => i !== pi) })); setPairIndex(Math.max(0, pi - 1)); }}
            data-testid="experiment.pair.remove"
          >− remove</button>
        ) : null}
        <span className="pw-muted">{spec.pairs.length > 1 ? `metric averaged over ${spec.pairs.length} pairs` : ''}</span>
      </div>

      <div role="tabpanel" className="pw-pair">
        {fieldInput('clean', 'Clean prompt', true)}
        {fieldInput('corrupted', 'Corrupted prompt', true)}
        <TokenChips clean={pair.clean} corrupted={pair.corrupted} prependBos={spec.prependBos} answers={answers} trained={trained} />
        {warnings.length ? (
          <ul className="pw-issues" data-testid="experiment.warnings">
            {warnings.map((w, k) => <li key={k}>{w.message}</li>)}
          </ul>
        ) : null}
        {/* attn, prefix and neuron read an activation, not a logit: no answer (a typed one stays, unused). */}
        {!READS_NO_ANSWER.has(spec.metric.name) ? (
          <div className="pw-answers">
            {fieldInput('answer', 'Answer', false)}
            {spec.metric.name === 'logit_diff' ? fieldInput('wrong', 'Wrong answer', false) : null}
            {spec.metric.name === 'dla' ? fieldInput('wrong', 'Wrong answer (optional)', false) : null}
          </div>
        ) : null}
      </div>

      <DatasetImport />

      <MetricOptions spec={spec} update={update} metricId={ids.metric} issuesFor={issuesFor} cfg={config} tokens={cleanTokens} />

      {issues.length ? (
        <div className="pw-issues-all" role="alert" data-testid="experiment.issues">
          {issues.filter((i) => !shownInline(i)).map((i, k) => <p key={k}>{i.message}</p>)}
          {issues.some(shownInline) ? (
            <p className="pw-muted">
              {issues.filter(shownInline).length === 1 ? 'One problem is' : `${issues.filter(shownInline).length} problems are`} shown next to the fields above.
            </p>
          ) : null}
        </div>
      ) : null}

      <div className="pw-run">
        <button
          type="button"
          className="pw-primary"
          onClick={onRun}
          disabled={!modelReady || runState.status === 'running'}
          data-testid="patching.run"
          title="Run (Ctrl+Enter in a prompt)"
        >
          Run
        </button>
        <span className="pw-muted" role="status" data-testid="run.status">
          {!modelReady ? (modelStatus === 'error' ? 'No model is loaded: see Model above (Retry, or choose another).' : modelStatus === 'loading' ? 'waiting for the model to load' : 'waiting for the model') : runState.status === 'running' ? 'computing attribution…' : runState.status === 'error' ? '' : ''}
        </span>
        {runState.status === 'running' ? (
          <button
            type="button"
            className="pw-small"
            onClick={() => void cancelRun()}
            title="Stops the computation by restarting the engine; the model reloads from the browser's cache"
            data-testid="run.cancel"
          >
            Cancel
          </button>
        ) : null}
        {runState.status === 'error' && runState.error ? <span className="pw-error" role="alert" data-testid="run.error">{runState.error}</span> : null}
      </div>
      <RunSummary />
    </section>
  );
}

function RunSummary() {
  const version = useStore((s) => s.run.version);
  const id = useStore((s) => s.run.id);
  void version;
  return id === null ? null : <RunSummaryInner id={id} />;
}

function RunSummaryInner({ id }: { id: number }) {
  const r = getRun(id);
  if (!r) return null;
  // A run over several pairs: the mean over them, whichever pair the views show.
  const metric = r.pairs && r.pairs.shown !== null ? r.pairs.views.get('all')!.metric : r.metric;
  return (
    <p className="pw-muted" data-testid="run.summary">
      Run {r.id}: metric clean {metric.clean.toFixed(4)}, corrupted {metric.corrupted.toFixed(4)}{r.pairs ? ` (mean of ${r.pairs.records.length} pairs)` : ''} · {formatMs(r.elapsedMs)}
    </p>
  );
}

function MetricOptions({ spec, update, metricId, issuesFor, cfg, tokens }: {
  spec: ExperimentSpec;
  update: (f: (s: ExperimentSpec) => ExperimentSpec) => void;
  metricId: string;
  issuesFor: (field: string) => InputIssue[];
  cfg: GPT2Config | null;
  tokens: readonly string[];
}) {
  const basketId = useId();
  const posId = useId();
  // The location of the last internal metric, so that going to a logit metric and back loses nothing chosen.
  const [lastSite, setLastSite] = useState<MetricSite | undefined>(undefined);
  const pickMetric = (name: MetricName) => update((s) => {
    const { site, ...rest } = s.metric;
    if (site) setLastSite(site);
    const next = defaultSite(name, cfg ?? { nLayers: 1 }, tokens.length, site ?? lastSite);
    return { ...s, metric: next ? { ...rest, name, site: next } : { ...rest, name } };
  });
  const metricIssues = issuesFor('metric');
  return (
    <fieldset className="pw-options">
      <legend className="pw-sr-only">Metric, direction and options</legend>
      <div className="pw-field">
        <label htmlFor={metricId}>Metric</label>
        <select
          id={metricId}
          value={spec.metric.name}
          onChange={(e) => pickMetric(e.target.value as MetricName)}
          aria-invalid={metricIssues.length > 0}
          data-testid="experiment.metric"
        >
          {(Object.keys(METRIC_TEXT) as MetricName[]).map((m) => <option key={m} value={m}>{m}</option>)}
        </select>
        <span className="pw-muted">{METRIC_TEXT[spec.metric.name]}</span>
      </div>
      {isInternalMetric(spec.metric.name) ? (
        <MetricSitePicker
          name={spec.metric.name}
          site={spec.metric.site ?? defaultSite(spec.metric.name, cfg ?? { nLayers: 1 }, tokens.length)!}
          onChange={(site) => update((s) => ({ ...s, metric: { ...s.metric, site } }))}
          cfg={cfg}
          tokens={tokens}
          issues={metricIssues}
        />
      ) : metricIssues.length ? (
        <ul className="pw-issues" data-testid="experiment.issue.metric">{metricIssues.map((i, k) => <li key={k}>{i.message}</li>)}</ul>
      ) : null}
      {spec.metric.name === 'basket' ? (
        <div className="pw-field">
          <label htmlFor={basketId}>Basket tokens (separated by |)</label>
          <input
            id={basketId}
            value={(spec.metric.basket ?? []).join('|')}
            onChange={(e) => update((s) => ({ ...s, metric: { ...s.metric, basket: e.target.value.split('|') } }))}
          />
          {issuesFor('basket').map((i, k) => <p key={k} className="pw-issue">{i.message}</p>)}
        </div>
      ) : null}
      {spec.metric.name === 'mean_logprob' ? (
        <div className="pw-field">
          <label htmlFor={posId}>Positions (comma separated; empty = last)</label>
          <input
            id={posId}
            value={(spec.metric.positions ?? []).join(',')}
            onChange={(e) => update((s) => ({
              ...s,
              metric: { ...s.metric, positions: e.target.value.split(',').map((x) => x.trim()).filter(Boolean).map(Number) },
            }))}
          />
          {issuesFor('positions').map((i, k) => <p key={k} className="pw-issue">{i.message}</p>)}
        </div>
      ) : null}
      <div className="pw-field pw-radio" role="radiogroup" aria-label="Direction">
        {(['denoising', 'noising'] as const).map((d) => (
          <label key={d} title={d === 'denoising' ? 'Patch clean activations into the corrupted run (gradients from the corrupted run)' : 'Patch corrupted activations into the clean run (gradients from the clean run)'}>
            <input type="radio" name="direction" checked={spec.direction === d} onChange={() => update((s) => ({ ...s, direction: d }))} data-testid={`experiment.direction.${d}`} />
            {d}
          </label>
        ))}
      </div>
      <div className="pw-field pw-checks">
        <label title="No gradient through LayerNorm scales (ln*.hook_scale treated as constants)">
          <input type="checkbox" checked={spec.options.freezeLayerNorm} onChange={(e) => update((s) => ({ ...s, options: { ...s.options, freezeLayerNorm: e.target.checked } }))} />
          freeze LayerNorm
        </label>
        <label title="No gradient through attention patterns (hook_pattern treated as constant)">
          <input type="checkbox" checked={spec.options.freezeAttention} onChange={(e) => update((s) => ({ ...s, options: { ...s.options, freezeAttention: e.target.checked } }))} />
          freeze attention
        </label>
        <label title="Prepend <|endoftext|> as BOS, as TransformerLens does">
          <input type="checkbox" checked={spec.prependBos} onChange={(e) => update((s) => ({ ...s, prependBos: e.target.checked }))} />
          prepend BOS
        </label>
      </div>
    </fieldset>
  );
}

function dedupe(issues: InputIssue[]): InputIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.field}:${i.pair}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function isPresetSpec(spec: ExperimentSpec, presetId: string): boolean {
  const p = presetById(presetId);
  return !!p && JSON.stringify(p.spec.pairs) === JSON.stringify(spec.pairs);
}
