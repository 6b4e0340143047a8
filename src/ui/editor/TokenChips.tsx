// Clean and corrupted prompts as token chips, aligned position by position (one column per position, wrapping),
// differing positions highlighted.
import { useMemo } from 'react';
import { tokenize } from '../../engine/model/tokenizer';

export interface TokenChipsProps {
  clean: string;
  corrupted: string;
  prependBos: boolean;
}

export function alignTokens(clean: string[], corrupted: string[]): { n: number; differs: boolean[] } {
  const n = Math.max(clean.length, corrupted.length);
  return { n, differs: Array.from({ length: n }, (_, i) => clean[i] !== corrupted[i]) };
}

export function TokenChips({ clean, corrupted, prependBos }: TokenChipsProps) {
  const c = useMemo(() => tokenize(clean, { prependBos }), [clean, prependBos]);
  const k = useMemo(() => tokenize(corrupted, { prependBos }), [corrupted, prependBos]);
  const { n, differs } = alignTokens(c.display, k.display);
  if (!clean && !corrupted) return null;
  const chip = (t: { ids: number[]; display: string[] }, i: number, which: string) => {
    const text = t.display[i];
    return (
      <span
        className={`pw-chip${text === undefined ? ' pw-chip-missing' : ''}${differs[i] ? ' pw-chip-diff' : ''}`}
        title={text === undefined ? `${which}: no token at position ${i}` : `${which} pos ${i} · id ${t.ids[i]}`}
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
    </div>
  );
}
