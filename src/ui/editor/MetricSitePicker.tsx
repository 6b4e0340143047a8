// Where a metric on an internal activation reads (issue 13, item 3): layer and head as lists bounded by the loaded
// model, query, key and neuron positions as lists labelled with the prompt's tokens, the neuron as a number. A value
// the model or prompt does not have (from a link, or a prompt made shorter) stays as it is, marked out of range, with
// the engine's message beside the fields: nothing the user chose is silently changed.
import { useId, useState } from 'react';
import type { InputIssue } from '../../engine/patching/experiment';
import { formatMetric, siteFields, type InternalMetricName } from '../../engine/patching/metric-spec';
import type { MetricSite } from '../../engine/patching/types';

export interface SitePickerProps {
  name: InternalMetricName;
  site: MetricSite;
  onChange: (site: MetricSite) => void;
  /** The loaded model's sizes (null before one is loaded: the lists then offer the values set). */
  cfg: { nLayers: number; nHeads: number; dMlp: number } | null;
  /** Display tokens of the prompt on screen (BOS included when prepended), for position labels. */
  tokens: readonly string[];
  /** The engine's messages about the metric (field 'metric'). */
  issues: InputIssue[];
}

const LABEL: Record<keyof MetricSite, string> = { layer: 'Layer', head: 'Head', query: 'Query position', key: 'Key position', pos: 'Position', neuron: 'Neuron' };

/**
 * The choices of one list: 0..n-1 with their labels, plus the current value when it is outside (kept, marked). With
 * n = 0 (no model loaded yet, or an empty prompt) nothing is known to bound it: the current value is offered as is.
 */
export function siteOptions(n: number, current: number | undefined, label: (i: number) => string): { value: number; label: string; outside: boolean }[] {
  const out = Array.from({ length: n }, (_, i) => ({ value: i, label: label(i), outside: false }));
  if (current !== undefined && (current >= n || current < 0)) {
    out.push(n === 0 ? { value: current, label: label(current), outside: false } : { value: current, label: `${current} (out of range: 0–${n - 1})`, outside: true });
  }
  return out;
}

/** "3 ·Mary": a position and its token. */
export const positionLabel = (tokens: readonly string[]) => (p: number) => (tokens[p] !== undefined ? `${p} ${tokens[p]}` : String(p));

/** What a typed neuron index means: a number, or why it is not one (the text stays in the field either way). */
export function parseNeuron(text: string, dMlp: number | null): { value: number } | { error: string } {
  const t = text.trim();
  const range = dMlp ? ` from 0 to ${dMlp - 1}` : '';
  if (t === '') return { error: `Type the neuron's index${range}.` };
  if (!/^\d+$/.test(t)) return { error: `The neuron "${t}" is not a whole number; type its index${range}.` };
  return { value: Number(t) };
}

export function MetricSitePicker({ name, site, onChange, cfg, tokens, issues }: SitePickerProps) {
  const base = useId();
  const fields = siteFields(name);
  // The neuron as typed: a text that is not a number yet stays here (and is named), the spec keeps the last number.
  const [neuronText, setNeuronText] = useState<string | null>(null);
  const neuronShown = neuronText ?? String(site.neuron ?? '');
  const neuronParsed = fields.includes('neuron') ? parseNeuron(neuronShown, cfg?.dMlp ?? null) : { value: 0 };
  const issuesId = `${base}-issues`;
  const describedBy = issues.length || 'error' in neuronParsed ? issuesId : undefined;
  let text: string | null = null;
  try {
    text = formatMetric({ name, site });
  } catch {
    text = null;
  }

  const size: Record<Exclude<keyof MetricSite, 'neuron'>, number> = {
    layer: cfg?.nLayers ?? 0, head: cfg?.nHeads ?? 0, query: tokens.length, key: tokens.length, pos: tokens.length,
  };
  const labelOf: Record<Exclude<keyof MetricSite, 'neuron'>, (i: number) => string> = {
    layer: (i) => `L${i}`, head: (i) => `H${i}`, query: positionLabel(tokens), key: positionLabel(tokens), pos: positionLabel(tokens),
  };
  const set = (f: keyof MetricSite, v: number) => onChange({ ...site, [f]: v });

  return (
    <div className="pw-field pw-metric-site" role="group" aria-label={`Where the ${name} metric reads`} data-testid="metric.site">
      <div className="pw-row pw-wrap">
        {fields.map((f) => {
          const id = `${base}-${f}`;
          if (f === 'neuron') {
            return (
              <div key={f} className="pw-field">
                <label htmlFor={id}>{LABEL[f]}{cfg ? ` (0–${cfg.dMlp - 1})` : ''}</label>
                <input
                  id={id}
                  inputMode="numeric"
                  size={6}
                  value={neuronShown}
                  aria-invalid={'error' in neuronParsed || issues.length > 0}
                  aria-describedby={describedBy}
                  data-testid="metric.site.neuron"
                  onChange={(e) => {
                    const t = e.target.value;
                    const p = parseNeuron(t, cfg?.dMlp ?? null);
                    setNeuronText('error' in p ? t : null);
                    if ('value' in p) set('neuron', p.value);
                  }}
                />
              </div>
            );
          }
          const options = siteOptions(size[f], site[f], labelOf[f]);
          return (
            <div key={f} className="pw-field">
              <label htmlFor={id}>{LABEL[f]}</label>
              <select
                id={id}
                value={site[f] ?? ''}
                aria-invalid={options.some((o) => o.outside) || issues.length > 0}
                aria-describedby={describedBy}
                data-testid={`metric.site.${f}`}
                onChange={(e) => set(f, Number(e.target.value))}
              >
                {site[f] === undefined ? <option value="">choose…</option> : null}
                {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
              </select>
            </div>
          );
        })}
      </div>
      {text ? <span className="pw-muted" data-testid="metric.site.text">CLI: <code>--metric {text}</code></span> : null}
      {describedBy ? (
        <ul className="pw-issues" id={issuesId} data-testid="experiment.issue.metric">
          {'error' in neuronParsed ? <li>{neuronParsed.error}</li> : null}
          {issues.map((i, k) => <li key={k}>{i.message}</li>)}
        </ul>
      ) : null}
    </div>
  );
}
