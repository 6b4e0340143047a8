// A small XML serialiser for our own chart SVGs. Not XMLSerializer, so that it is testable without a DOM, behaves
// the same in every browser, and can refuse anything active: an exported chart is a picture that people open in
// other tools, so it carries no script, no event handlers, no foreignObject HTML and no external links.

/** The part of the DOM Node interface this needs; real SVG elements satisfy it. */
export interface NodeLike {
  nodeType: number;
  nodeName: string;
  nodeValue: string | null;
  attributes?: ArrayLike<{ name: string; value: string }>;
  childNodes: ArrayLike<NodeLike>;
}

const ELEMENT = 1;
const TEXT = 3;
const CDATA = 4;

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';
const DROPPED_ELEMENTS = new Set(['script', 'foreignobject', 'iframe', 'object', 'embed', 'image', 'use']);
const XML_NAME = /^[A-Za-z_][\w.:-]*$/;

export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values also escape quotes and whitespace controls, which an XML parser would otherwise normalise. */
export function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

function keepAttribute(name: string, value: string): boolean {
  const n = name.toLowerCase();
  if (!XML_NAME.test(name) || n.startsWith('on')) return false;
  // Only in-document references (#id); no javascript:, data: or remote URLs.
  if (n === 'href' || n === 'xlink:href' || n === 'src') return value.startsWith('#');
  // url(...) only as url(#id), e.g. fill="url(#gradient)".
  if (/url\s*\(/i.test(value)) return /^\s*url\(\s*#[\w-]+\s*\)\s*$/i.test(value);
  return true;
}

function serialize(node: NodeLike, root: boolean, out: string[]): void {
  if (node.nodeType === TEXT || node.nodeType === CDATA) {
    out.push(escapeText(node.nodeValue ?? ''));
    return;
  }
  if (node.nodeType !== ELEMENT) return; // comments, processing instructions
  const name = node.nodeName;
  if (DROPPED_ELEMENTS.has(name.toLowerCase()) || !XML_NAME.test(name)) return;
  const attrs: string[] = [];
  let hasNs = false;
  for (const a of Array.from(node.attributes ?? [])) {
    if (a.name === 'xmlns') {
      hasNs = true;
      attrs.push(`xmlns="${SVG_NS}"`);
      continue;
    }
    if (a.name.startsWith('xmlns:')) continue; // xlink is declared on the root; nothing else is allowed
    if (!keepAttribute(a.name, a.value)) continue;
    attrs.push(`${a.name}="${escapeAttribute(a.value)}"`);
  }
  if (root && !hasNs) attrs.unshift(`xmlns="${SVG_NS}"`);
  if (root) attrs.push(`xmlns:xlink="${XLINK_NS}"`);
  const children = Array.from(node.childNodes);
  const open = attrs.length ? `<${name} ${attrs.join(' ')}` : `<${name}`;
  if (children.length === 0) {
    out.push(`${open}/>`);
    return;
  }
  out.push(`${open}>`);
  for (const c of children) serialize(c, false, out);
  out.push(`</${name}>`);
}

/** A standalone .svg document for this element and its subtree. */
export function serializeSvg(svg: NodeLike): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  serialize(svg, true, out);
  return out.join('');
}
