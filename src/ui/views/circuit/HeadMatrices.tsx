// Head-to-head matrices of edge attribution for q, k and v, and heads -> MLPs/logits; cells are focusable and run
// the edge's exact path patch on click or Enter, like every other heatmap.
import { useMemo } from 'react';
import { patchEdge } from '../../../state/actions';
import { Heatmap } from '../../../viz/heatmap/Heatmap';
import type { CircuitData } from '../../../viz/circuit/circuit-model';
import { headMatrix, headOutMatrix, type EdgeMatrix } from '../../../viz/circuit/head-matrix';

function MatrixFigure({ m, title, subtitle, exact, selectedEdge, testid, unit, blocked }: {
  m: EdgeMatrix; title: string; subtitle: string; exact: Map<string, number>; selectedEdge: string | null; testid: string; unit: string;
  blocked?: (receiver: string) => string | null;
}) {
  // Edges into a receiver not upstream of an internal metric (issue 13): named so, not "not computed".
  const notUpstream = useMemo(() => (blocked ? ([r, c]: readonly number[]) => {
    const name = m.edgeAt(r, c);
    return name ? blocked(name.slice(name.indexOf('->') + 2)) : null;
  } : undefined), [blocked, m]);
  const [nRows, nCols] = m.data.shape;
  const patched = useMemo(() => {
    const data = new Float64Array(nRows * nCols).fill(NaN);
    for (let r = 0; r < nRows; r++) for (let c = 0; c < nCols; c++) {
      const name = m.edgeAt(r, c);
      const v = name ? exact.get(name) : undefined;
      if (v !== undefined) data[r * nCols + c] = v;
    }
    return { ...m.data, data };
    // exact is mutated in place by patchEdge; its size tells that it changed.
  }, [m, exact, exact.size, nRows, nCols]);
  let selected: number[] | null = null;
  for (let r = 0; r < nRows && !selected; r++) for (let c = 0; c < nCols; c++) if (selectedEdge && m.edgeAt(r, c) === selectedEdge) selected = [r, c];
  return (
    <figure className="pw-figure" data-testid={testid}>
      <Heatmap
        data={m.data}
        patched={patched}
        options={{
          title, subtitle, unit, rowLabels: m.rowLabels, colLabels: m.colLabels, valueName: 'attribution', patchedName: 'exact path patch',
          notUpstream, mask: (r, c) => m.edgeAt(r, c) === null, targetName: ([r, c]) => `edge ${m.edgeAt(r, c)}`, cellWidth: 18, cellHeight: 16,
        }}
        selected={selected}
        onSelect={([r, c]) => {
          if (notUpstream?.([r, c])) return;
          const name = m.edgeAt(r, c);
          const ref = m.refAt(r, c);
          if (name && ref) void patchEdge(name, ref);
        }}
      />
    </figure>
  );
}

export function HeadMatrices({ data, exact, selectedEdge, unit, blocked }: {
  data: CircuitData; exact: Map<string, number>; selectedEdge: string | null; unit: string;
  /** The metric's hook for a receiver not upstream of an internal metric, else null. */
  blocked?: (receiver: string) => string | null;
}) {
  const ms = useMemo(() => ({ q: headMatrix(data, 'q'), k: headMatrix(data, 'k'), v: headMatrix(data, 'v'), out: headOutMatrix(data) }), [data]);
  return (
    <section data-testid="circuit.matrices" aria-label="Head-to-head matrices">
      <h3>Head to head</h3>
      <div className="pw-grid">
        {(['q', 'k', 'v'] as const).map((x) => (
          <MatrixFigure
            key={x}
            m={ms[x]}
            title={`Head → head ${x === 'q' ? 'query' : x === 'k' ? 'key' : 'value'} (${x})`}
            subtitle="rows: receiver head, columns: sender head"
            exact={exact}
            selectedEdge={selectedEdge}
            testid={`figure.circuit.${x}`}
            unit={unit}
            blocked={blocked}
          />
        ))}
        <MatrixFigure
          m={ms.out}
          title="Head → MLP and logits"
          subtitle="rows: sender head, columns: MLP input, logits"
          exact={exact}
          selectedEdge={selectedEdge}
          testid="figure.circuit.out"
          unit={unit}
          blocked={blocked}
        />
      </div>
    </section>
  );
}
