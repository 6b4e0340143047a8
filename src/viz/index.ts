// Public surface of the visualisations. Components take (data, options) with a `defaults` object; the pure helpers
// behind them (scales, stats, layout, CSV/JSON) are exported for the CLI, tests and other views.
export { NOT_COMPUTED_COLOUR, contrastInk, divergingScale, legendModel, scaleFor, type DivergingScale } from './colour';
export { formatTick, formatValue } from './format';
export { describeTarget } from './target';
export { ravel, unravel } from './labelled';
export { ColourLegend } from './legend/ColourLegend';
export { Heatmap, defaults as heatmapDefaults, type HeatmapOptions, type HeatmapProps } from './heatmap/Heatmap';
export { heatmapModel, slice2d } from './heatmap/heatmap-model';
export { Scatter, defaults as scatterDefaults, type ScatterOptions, type ScatterProps } from './scatter/Scatter';
export { agreement, pearson, spearman, topKOverlap, type AgreementStats } from './scatter/stats';
export {
  AttentionGrid, defaults as attentionDefaults, type AttentionGridOptions, type AttentionGridProps, type HeadRef,
} from './attention/AttentionGrid';
export { causalMask, rankHeads, type HeadRank } from './attention/attention-model';
export { ExportButtons } from './export/ExportButtons';
export { downloadPng, downloadSvg, svgToString } from './export/download';
export { toCsv, toJson, type AxisLabels } from './export/tabular';
