// Every pair of the run with its own metric values (clean, corrupted, their difference) and, when a cell is
// selected, that cell's attribution for the pair; sortable by any column; a row selects its pair (issue 13).
import { useMemo, useState } from 'react';
import { selectPair } from '../../state/actions/dataset';
import { sortPairRows, type PairColumn, type PairRow } from '../../state/dataset';
import { flatIndex, type RunResult } from '../../state/results';
import { useStore } from '../../state/store';
import { formatPrecise } from '../format';

const MAX_ROWS = 1000;

export function PairsTable({ run }: { run: RunResult }) {
  const selected = useStore((s) => s.selected);
  const [sort, setSort] = useState<{ column: PairColumn; descending: boolean }>({ column: 'index', descending: false });
  const p = run.pairs;
  const rows = useMemo(() => {
    if (!p) return [];
    const per = selected ? p.perPair[selected.family] : undefined;
    const size = per ? per.data.length / per.shape[0] : 0;
    const at = per && selected ? flatIndex(per.shape.slice(1), selected.index) : -1;
    const all: PairRow[] = p.records.map((r, i) => ({
      index: i,
      line: r.line,
      clean: p.metricPerPair.clean[i],
      corrupted: p.metricPerPair.corrupted[i],
      difference: p.metricPerPair.clean[i] - p.metricPerPair.corrupted[i],
      ...(per && at >= 0 ? { cell: per.data[i * size + at] } : {}),
    }));
    return sortPairRows(all, sort.column, sort.descending).slice(0, MAX_ROWS);
  }, [p, selected, sort]);
  if (!p) return null;
  const metric = run.spec.metric.name;
  const columns: { id: PairColumn; label: string }[] = [
    { id: 'index', label: 'Pair' },
    { id: 'clean', label: `${metric}, clean` },
    { id: 'corrupted', label: `${metric}, corrupted` },
    { id: 'difference', label: 'clean − corrupted' },
    ...(selected ? [{ id: 'cell' as const, label: `attribution of ${selected.family} [${selected.index.join(', ')}]` }] : []),
  ];
  const onSort = (column: PairColumn) => setSort((s) => ({ column, descending: s.column === column ? !s.descending : column !== 'index' }));
  return (
    <section className="pw-pairs-table" aria-label="Pairs" data-testid="pairs.table">
      <h3>Pairs <span className="pw-muted">({p.records.length}, {p.name}; click a row to show that pair)</span></h3>
      <div className="pw-pairs-scroll">
        <table>
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.id} aria-sort={sort.column === c.id ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
                  <button type="button" className="pw-link-button" onClick={() => onSort(c.id)} data-testid={`pairs.sort.${c.id}`}>
                    {c.label}{sort.column === c.id ? (sort.descending ? ' ▼' : ' ▲') : ''}
                  </button>
                </th>
              ))}
              <th>Clean prompt</th>
              <th>Answer / wrong</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const rec = p.records[r.index];
              return (
                <tr
                  key={r.index}
                  aria-selected={p.shown === r.index}
                  className={p.shown === r.index ? 'pw-row-selected' : undefined}
                  onClick={() => selectPair(p.shown === r.index ? null : r.index)}
                  data-testid="pairs.row"
                  data-pair={r.index}
                >
                  <td>
                    <button type="button" className="pw-link-button" onClick={(e) => { e.stopPropagation(); selectPair(r.index); }}>
                      {r.index + 1}
                    </button>
                    {p.name !== 'typed pairs' ? <span className="pw-muted"> l.{r.line}</span> : null}
                  </td>
                  <td data-testid="pairs.clean" data-value={r.clean}>{formatPrecise(r.clean)}</td>
                  <td data-testid="pairs.corrupted" data-value={r.corrupted}>{formatPrecise(r.corrupted)}</td>
                  <td data-value={r.difference}>{formatPrecise(r.difference)}</td>
                  {selected ? <td data-testid="pairs.cell" data-value={r.cell ?? ''}>{r.cell === undefined ? '' : formatPrecise(r.cell)}</td> : null}
                  <td className="pw-prompt-cell" title={rec.clean}>{rec.clean}</td>
                  <td>{JSON.stringify(rec.answer)} / {JSON.stringify(rec.wrong)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
