// Browser-side export: SVG text, SVG/PNG/CSV/JSON downloads. Needs a DOM; the pure parts are serialize-svg.ts and
// tabular.ts.
import { serializeSvg } from './serialize-svg';
import { titleBlockLayout } from './title-block';

const SVG_NS = 'http://www.w3.org/2000/svg';
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/**
 * A new standalone <svg> with the title block above a copy of the chart (the chart on screen is not touched).
 * No lines: the chart itself.
 */
export function withTitleBlock(svgEl: SVGSVGElement, lines: readonly string[]): SVGSVGElement {
  if (!lines.length) return svgEl;
  const size = svgSize({ width: svgEl.getAttribute('width'), height: svgEl.getAttribute('height'), viewBox: svgEl.getAttribute('viewBox') });
  const block = titleBlockLayout(lines, size.width);
  const width = block.width;
  const height = block.height + size.height;
  const root = document.createElementNS(SVG_NS, 'svg');
  root.setAttribute('xmlns', SVG_NS);
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(height));
  root.setAttribute('viewBox', `0 0 ${width} ${height}`);
  root.setAttribute('font-family', FONT);
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', String(width));
  bg.setAttribute('height', String(height));
  bg.setAttribute('fill', '#fff');
  root.appendChild(bg);
  for (const l of block.lines) {
    const t = document.createElementNS(SVG_NS, 'text');
    t.setAttribute('x', '8');
    t.setAttribute('y', String(l.y));
    t.setAttribute('font-size', String(l.fontSize));
    t.setAttribute('font-weight', String(l.fontWeight));
    t.setAttribute('fill', l.fontWeight > 400 ? '#1d1d1f' : '#4b4b50');
    t.textContent = l.text;
    root.appendChild(t);
  }
  const chart = svgEl.cloneNode(true) as SVGSVGElement;
  chart.setAttribute('x', '0');
  chart.setAttribute('y', String(block.height));
  chart.setAttribute('width', String(size.width));
  chart.setAttribute('height', String(size.height));
  chart.removeAttribute('xmlns');
  root.appendChild(chart);
  return root;
}

/** A standalone SVG document for a chart. */
export function svgToString(svgEl: SVGSVGElement): string {
  return serializeSvg(svgEl);
}

/** "L9H9 pattern / IOI" -> "L9H9-pattern-IOI"; never empty, never a path. */
export function safeFilename(stem: string, ext: string): string {
  const clean = stem.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 100);
  return `${clean || 'patchwork'}.${ext}`;
}

/** Size in CSS pixels from width/height attributes, else the viewBox. */
export function svgSize(attrs: { width?: string | null; height?: string | null; viewBox?: string | null }): { width: number; height: number } {
  const w = parseFloat(attrs.width ?? '');
  const h = parseFloat(attrs.height ?? '');
  if (w > 0 && h > 0) return { width: w, height: h };
  const vb = (attrs.viewBox ?? '').split(/[\s,]+/).map(Number);
  if (vb.length === 4 && vb[2] > 0 && vb[3] > 0) return { width: vb[2], height: vb[3] };
  throw new Error('SVG has no size (width/height or viewBox)');
}

/** Browsers refuse canvases past ~16k px a side or ~268M px in all (Chrome); stay well inside both. */
export const MAX_CANVAS_SIDE = 16384;
export const MAX_CANVAS_AREA = 16384 * 8192;

/** Canvas size for `scale`, lowering the scale (never below 1 px) when the result would be too big to encode. */
export function pngCanvasSize(width: number, height: number, scale: number): { width: number; height: number; scale: number } {
  let s = Math.max(scale, 0.01);
  s = Math.min(s, MAX_CANVAS_SIDE / width, MAX_CANVAS_SIDE / height, Math.sqrt(MAX_CANVAS_AREA / (width * height)));
  return { width: Math.max(1, Math.floor(width * s)), height: Math.max(1, Math.floor(height * s)), scale: s };
}

export function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a); // Firefox ignores clicks on detached anchors in some versions
  a.click();
  a.remove();
  // Revoking at once can cancel the download in Safari; a delay is the usual workaround (FileSaver.js does 40 s).
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

export function downloadText(text: string, filename: string, type: string): void {
  downloadBlob(new Blob([text], { type }), filename);
}

export function downloadSvg(svgEl: SVGSVGElement, stem = 'patchwork'): void {
  downloadText(svgToString(svgEl), safeFilename(stem, 'svg'), 'image/svg+xml;charset=utf-8');
}

/** Rasterise the chart: serialise, load as an <img>, draw on a white canvas at `scale`x, encode PNG. */
export async function downloadPng(svgEl: SVGSVGElement, scale = 2, stem = 'patchwork'): Promise<void> {
  const { width, height } = svgSize({
    width: svgEl.getAttribute('width'), height: svgEl.getAttribute('height'), viewBox: svgEl.getAttribute('viewBox'),
  });
  const size = pngCanvasSize(width, height, scale);
  const url = URL.createObjectURL(new Blob([svgToString(svgEl)], { type: 'image/svg+xml;charset=utf-8' }));
  try {
    const img = new Image();
    img.width = width;
    img.height = height;
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = size.width;
    canvas.height = size.height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas context');
    ctx.fillStyle = '#fff'; // transparent PNGs look broken on dark slides
    ctx.fillRect(0, 0, size.width, size.height);
    ctx.drawImage(img, 0, 0, size.width, size.height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
    if (!blob) throw new Error('PNG encoding failed (canvas too large?)');
    downloadBlob(blob, safeFilename(stem, 'png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}
