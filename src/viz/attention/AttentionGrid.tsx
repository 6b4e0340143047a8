// One head's query_pos x key_pos grid of pattern attribution, beside the heads ranked by max |attribution|.
import { useMemo, useState, type Ref } from 'react';
import type { Labelled } from '../../engine/patching/types';
import { divergingScale, sequentialScale } from '../colour';
import { formatValue } from '../format';
import { maxAbs as finiteMaxAbs } from '../labelled';
import { Heatmap } from '../heatmap/Heatmap';
import type { HeatmapModelOptions } from '../heatmap/heatmap-model';
import { causalMask, headName, rankHeads, type HeadRank } from './attention-model';
import '../viz.css';

export interface AttentionGridOptions {
  /** Token display strings ('·Mary') for both axes. */
  tokens?: readonly string[];
  unit?: string;
  /** Heads listed before "show all". */
  topN: number;
  cellSize: number;
  /** 'all': one colour domain for every head, so heads compare; 'head': fit the shown head, to see its structure. */
  colourDomain: 'all' | 'head';
  /** What the values are ("attribution", "AtP* estimate, magnitude"); magnitudes take a sequential scale. */
  valueName?: string;
  sequential?: boolean;
  /** Issue 13: entries not upstream of an internal metric (by full index), and the metric's own entry. */
  notUpstream?: HeatmapModelOptions['notUpstream'];
  metricCell?: readonly number[] | null;
}

export const defaults: AttentionGridOptions = {
  topN: 20,
  cellSize: 22,
  colourDomain: 'all',
};

export interface HeadRef {
  layer: number;
  head: number;
}

export interface AttentionGridProps {
  /** pattern_by_pos attribution, axes [layer, head, query_pos, key_pos]. */
  data: Labelled;
  /** Activation patches for the same entries, NaN where not computed. */
  patched?: Labelled;
  /** Standard error over pairs of the same entries (issue 13), for the tooltip. */
  sem?: Labelled;
  options?: Partial<AttentionGridOptions>;
  /** The head to show; defaults to the top-ranked one. */
  head?: HeadRef | null;
  onSelectHead?: (head: HeadRef) => void;
  /** Selected entry, a full [layer, head, query_pos, key_pos] index. */
  selected?: readonly number[] | null;
  onSelect?: (index: number[]) => void;
  svgRef?: Ref<SVGSVGElement>;
}

export function AttentionGrid({ data, patched, sem, options, head, onSelectHead, selected, onSelect, svgRef }: AttentionGridProps) {
  const o = { ...defaults, ...options };
  const ranked = useMemo(() => rankHeads(data), [data]);
  const globalMax = useMemo(() => finiteMaxAbs(data.data), [data]);
  const [showAll, setShowAll] = useState(false);
  const shown: HeadRef | undefined = head ?? ranked[0];
  if (!shown) return <p className="pw-empty">No heads.</p>;

  const listScale = (o.sequential ? sequentialScale : divergingScale)(globalMax);
  const list = showAll ? ranked : ranked.slice(0, o.topN);
  const isShown = (r: HeadRank) => r.layer === shown.layer && r.head === shown.head;
  const tok = (p: number) => (o.tokens?.[p] !== undefined ? `${p} (${o.tokens[p]})` : String(p));

  return (
    <div className="pw-viz pw-attention" data-testid="attention">
      <Heatmap
        data={data}
        patched={patched}
        sem={sem}
        selected={selected}
        onSelect={onSelect}
        svgRef={svgRef}
        options={{
          rowAxis: 'query_pos',
          colAxis: 'key_pos',
          fixed: { layer: shown.layer, head: shown.head },
          family: 'pattern_by_pos',
          tokens: o.tokens,
          unit: o.unit,
          mask: causalMask,
          maxAbs: o.colourDomain === 'all' ? globalMax : undefined,
          valueName: o.valueName,
          sequential: o.sequential,
          notUpstream: o.notUpstream,
          metricCell: o.metricCell,
          cellWidth: o.cellSize,
          cellHeight: o.cellSize,
          title: `${headName(shown)} attention pattern attribution`,
          subtitle: 'rows: query_pos (dest) · columns: key_pos (src)',
          ariaLabel: `Layer ${shown.layer} head ${shown.head} attention pattern attribution, query position by key position`,
        }}
      />
      <div className="pw-head-col">
        <ol className="pw-head-list" aria-label="Heads ranked by max |pattern attribution|" data-testid="attention.heads">
          {list.map((r) => (
            <li key={`${r.layer}.${r.head}`}>
              <button
                type="button"
                aria-pressed={isShown(r)}
                data-testid="attention.head"
                data-layer={r.layer}
                data-head={r.head}
                title={Number.isNaN(r.maxAbs) ? undefined : `max at query_pos ${tok(r.queryPos)} key_pos ${tok(r.keyPos)}`}
                onClick={() => onSelectHead?.({ layer: r.layer, head: r.head })}
              >
                <span className="pw-swatch" style={{ background: listScale(r.value) }} aria-hidden="true" />
                <span className="pw-head-name">{headName(r)}</span>
                <span className="pw-head-value" data-testid="attention.head.value">{formatValue(r.value)}</span>
              </button>
            </li>
          ))}
        </ol>
        {ranked.length > o.topN ? (
          <button type="button" className="pw-link-button" onClick={() => setShowAll((v) => !v)}>
            {showAll ? `Show top ${o.topN}` : `Show all ${ranked.length} heads`}
          </button>
        ) : null}
      </div>
    </div>
  );
}
