// Clean and corrupted prompts as token chips, aligned position by position (one column per position, wrapping),
// differing positions highlighted; for a toy model trained on a subset of the vocabulary, tokens outside it are
// marked and named (the model never saw them: what it computes on them means nothing).
import { useMemo } from 'react';
import { BOS_TOKEN, tokenize } from '../../engine/model/tokenizer';

export interface TokenChipsProps {
  clean: string;
  corrupted: string;
  prependBos: boolean;
  /** The answer and wrong answer, checked against `trained` too. */
  answers?: string[];
  /** Token ids the model was trained on; absent for models trained on the whole vocabulary. */
  trained?: ReadonlySet<number> | null;
}

type Tokenized = { ids: number[]; display: string[] };

/** The distinct display forms of the tokens outside `trained` (BOS always counts as trained). */
export function untrainedTokens(tokenized: Tokenized[], trained: ReadonlySet<number>): string[] {
  const out = new Set<string>();
  for (const t of tokenized) t.ids.forEach((id, i) => { if (id !== BOS_TOKEN && !trained.has(id)) out.add(t.display[i]); });
  return [...out];
}

export function alignTokens(clean: string[], corrupted: string[]): { n: number; differs: boolean[] } {
  const n = Math.max(clean.length, corrupted.length);
  return { n, differs: Array.from({ length: n }, (_, i) => clean[i] !== corrupted[i]) };
}

export function TokenChips({ clean, corrupted, prependBos, answers = [], trained }: TokenChipsProps) {
  const c = useMemo(() => tokenize(clean, { prependBos }), [clean, prependBos]);
  const k = useMemo(() => tokenize(corrupted, { prependBos }), [corrupted, prependBos]);
  const untrained = useMemo(
    () => (trained ? untrainedTokens([c, k, ...answers.map((a) => tokenize(a, { prependBos: false }))], trained) : []),
    [c, k, answers, trained],
  );
  const { n, differs } = alignTokens(c.display, k.display);
  if (!clean && !corrupted) return null;
  const chip = (t: Tokenized, i: number, which: string) => {
    const text = t.display[i];
    const outside = text !== undefined && trained && t.ids[i] !== BOS_TOKEN && !trained.has(t.ids[i]);
    return (
      <span
        className={`pw-chip${text === undefined ? ' pw-chip-missing' : ''}${differs[i] ? ' pw-chip-diff' : ''}${outside ? ' pw-chip-untrained' : ''}`}
        title={text === undefined ? `${which}: no token at position ${i}` : `${which} pos ${i} · id ${t.ids[i]}${outside ? ' · not in this model\'s training vocabulary' : ''}`}
        data-testid={`tokens.${which}`}
      >
        {text ?? '∅'}
      </span>
    );
  };
  return (
    <div className="pw-chips-box">
      <div className="pw-chips" role="list" aria-label="Tokens aligned by position: clean above corrupted" data-testid="tokens">
        {Array.from({ length: n }, (_, i) => (
          <span
            key={i}
            role="listitem"
            className="pw-chip-col"
            aria-label={`position ${i}: clean ${c.display[i] ?? 'none'}, corrupted ${k.display[i] ?? 'none'}${differs[i] ? ' (differs)' : ''}`}
          >
            <span className="pw-chip-index" aria-hidden="true">{i}</span>
            {chip(c, i, 'clean')}
            {chip(k, i, 'corrupted')}
          </span>
        ))}
      </div>
      <div className="pw-chip-summary" data-testid="tokens.summary">
        top row clean, bottom row corrupted · {c.ids.length} / {k.ids.length} tokens
        {c.ids.length === k.ids.length ? ` · ${differs.filter(Boolean).length} differ` : ' · lengths differ'}
      </div>
      {untrained.length ? (
        <p className="pw-chip-untrained-note" data-testid="tokens.untrained">
          This model was trained on a small vocabulary and never saw {untrained.map((t) => `"${t}"`).join(', ')}: its
          activations and predictions on {untrained.length === 1 ? 'it' : 'them'} mean nothing.
        </p>
      ) : null}
    </div>
  );
}
