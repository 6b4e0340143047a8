// The raw attention pattern of the Attention tab's head on the clean and the corrupted prompt (issue 14), beside its
// attribution: what the head attends to, before asking what patching it changes. [query_pos][key_pos], 0..1.
import { useEffect } from 'react';
import { computePattern, getPattern, patternKey, useInspect } from '../../../state/actions/inspect';
import type { RunResult } from '../../../state/results';
import { sequentialScale } from '../../../viz/colour';
import './inspect.css';

const CELL = 14;
const LABEL = 70;

export function RawPatternPanel({ run, head }: { run: RunResult; head: { layer: number; head: number } }) {
  const status = useInspect((s) => s.patternStatus);
  const error = useInspect((s) => s.patternError);
  const shownKey = useInspect((s) => s.patternKey);
  const key = patternKey(run, head);
  useEffect(() => {
    void computePattern({ layer: head.layer, head: head.head });
  }, [run, head.layer, head.head]); // not `head`: the object is rebuilt on every render
  const value = shownKey === key && status === 'done' ? getPattern(key) : undefined;
  return (
    <section className="pw-raw-pattern" aria-label={`Attention pattern of L${head.layer}H${head.head}`} data-testid="attention.raw">
      {value ? (
        <>
          <PatternGrid which="clean" tokens={run.tokens} n={value.clean.n} data={value.clean.data} head={head} />
          <PatternGrid which="corrupted" tokens={run.corruptedTokens} n={value.corrupted.n} data={value.corrupted.data} head={head} />
        </>
      ) : status === 'error' && shownKey === key ? <p className="pw-error" role="alert">{error}</p> : <p className="pw-muted" role="status">Reading the attention pattern…</p>}
    </section>
  );
}

function PatternGrid({ which, tokens, n, data, head }: { which: string; tokens: string[]; n: number; data: Float64Array; head: { layer: number; head: number } }) {
  const colour = sequentialScale(1);
  const size = LABEL + n * CELL;
  const label = (i: number) => (tokens[i] ?? String(i)).slice(0, 9);
  return (
    <figure data-testid={`attention.raw.${which}`}>
      <figcaption>L{head.layer}H{head.head} attention pattern, {which} prompt <span className="pw-muted">(query ↓ × key →, 0 to 1)</span></figcaption>
      <svg width={size} height={size} role="img" aria-label={`L${head.layer}H${head.head} attention pattern on the ${which} prompt`}>
        {Array.from({ length: n }, (_, k) => (
          <text key={`k${k}`} x={0} y={0} fontSize={9} transform={`translate(${LABEL + k * CELL + CELL - 3},${LABEL - 3}) rotate(-90)`}>{label(k)}</text>
        ))}
        {Array.from({ length: n }, (_, q) => (
          <text key={`q${q}`} x={LABEL - 3} y={LABEL + q * CELL + CELL - 4} fontSize={9} textAnchor="end">{label(q)}</text>
        ))}
        {Array.from({ length: n * n }, (_, i) => {
          const q = Math.floor(i / n);
          const k = i % n;
          if (k > q) return null; // causal: no weight above the diagonal
          const v = data[i];
          return (
            <rect key={i} x={LABEL + k * CELL} y={LABEL + q * CELL} width={CELL - 1} height={CELL - 1} fill={colour(v)} data-testid="attention.raw.cell" data-q={q} data-k={k} data-value={v}>
              <title>{`query ${q} ${tokens[q] ?? ''} → key ${k} ${tokens[k] ?? ''}: ${v.toFixed(4)}`}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}
