import { deflateSync } from 'fflate';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  base64UrlToBytes, BUILTIN_MODEL_IDS, bytesToBase64Url, canonicalJson, decodePermalink, encodePermalink,
  isAllowedModelUrl, MAX_FRAGMENT_CHARS, MAX_JSON_BYTES, needsConfirmation, type PermalinkState,
} from './permalink';

const ioi: PermalinkState = {
  model: { kind: 'builtin', id: 'gpt2' },
  experiment: {
    pairs: [
      { clean: 'When Mary and John went to the store, John gave a drink to', corrupted: 'When Mary and John went to the store, Mary gave a drink to', answer: ' Mary', wrong: ' John' },
      { clean: 'When Tom and James went to the park, James gave the ball to', corrupted: 'When Tom and James went to the park, Tom gave the ball to', answer: ' Tom', wrong: ' James' },
    ],
    metric: { name: 'logit_diff' },
    direction: 'denoising',
    options: { freezeLayerNorm: false, freezeAttention: false },
    prependBos: true,
  },
  view: { tab: 'heads', family: 'head_out', normalised: true, head: { layer: 9, head: 9 } },
  selected: { family: 'head_out', index: [9, 9, 14] },
};

/** A fragment carrying arbitrary JSON text, as an attacker would build it. */
const craft = (json: string, version = 'v1') => `#${version}.${bytesToBase64Url(deflateSync(new TextEncoder().encode(json)))}`;
// Attacker-shaped states are untyped JSON on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const withState = (patch: (s: any) => void) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const s = structuredClone(ioi) as any;
  patch(s);
  return craft(JSON.stringify(s));
};
const errorOf = (fragment: string) => {
  const r = decodePermalink(fragment);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.error;
};

describe('permalink round trip', () => {
  it('decodes what it encodes, exactly', () => {
    const link = encodePermalink(ioi);
    expect(link).toMatch(/^#v1\.[A-Za-z0-9_-]+$/);
    expect(decodePermalink(link)).toEqual({ ok: true, state: ioi });
    expect(decodePermalink(link.slice(1))).toEqual({ ok: true, state: ioi }); // without '#'
  });

  it('round-trips url models, optional fields and unusual text', () => {
    const s: PermalinkState = {
      ...ioi,
      model: { kind: 'url', url: 'https://huggingface.co/openai-community/gpt2/resolve/main/' },
      experiment: { ...ioi.experiment, metric: { name: 'basket', basket: [' Mary', ' Ma"ry', ' <b>'], positions: [1, 2] } },
      view: { tab: 'scatter', family: 'resid_pre', normalised: false },
    };
    delete (s as Partial<PermalinkState>).selected;
    s.experiment.pairs = [{ clean: 'Ünïcödé 😀 "quotes" \\ back\nslash', corrupted: '\u0000\t', answer: '', wrong: ' x' }];
    expect(decodePermalink(encodePermalink(s))).toEqual({ ok: true, state: s });
  });

  it('round-trips the attention mode and the per-position toggle', () => {
    for (const attentionMode of ['pair', 'clean'] as const) {
      for (const perPosition of [false, true]) {
        const s: PermalinkState = { ...ioi, view: { ...ioi.view, tab: 'attention', attentionMode, perPosition } };
        expect(decodePermalink(encodePermalink(s))).toEqual({ ok: true, state: s });
      }
    }
  });

  it('still opens a link made before the view had an attention mode or per-position toggle', () => {
    const old = craft(JSON.stringify(ioi));
    const r = decodePermalink(old);
    expect(r).toEqual({ ok: true, state: ioi });
    expect(r.ok && 'attentionMode' in r.state.view).toBe(false);
    expect(r.ok && 'perPosition' in r.state.view).toBe(false);
  });

  it('is deterministic: equal states give identical links whatever the key order', () => {
    const reordered: PermalinkState = {
      selected: { index: [9, 9, 14], family: 'head_out' },
      view: { head: { head: 9, layer: 9 }, normalised: true, family: 'head_out', tab: 'heads' },
      experiment: { ...ioi.experiment, prependBos: true, direction: 'denoising' },
      model: { id: 'gpt2', kind: 'builtin' },
    };
    expect(encodePermalink(reordered)).toBe(encodePermalink(ioi));
    expect(encodePermalink(ioi)).toBe(encodePermalink(structuredClone(ioi)));
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 0 } })).toBe('{"a":{"c":0,"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('keeps a 16-pair, 2000-character experiment well under the size limit', () => {
    const long = 'word '.repeat(400); // 2000 chars
    const s = structuredClone(ioi);
    s.experiment.pairs = Array.from({ length: 16 }, () => ({ clean: long, corrupted: long, answer: ' a', wrong: ' b' }));
    const link = encodePermalink(s);
    expect(link.length).toBeLessThan(MAX_FRAGMENT_CHARS);
    expect(decodePermalink(link)).toEqual({ ok: true, state: s });
  });

  it('refuses to encode an invalid state or one too large for a link', () => {
    expect(() => encodePermalink({ ...ioi, model: { kind: 'builtin', id: 'gpt5' as never } })).toThrow(/Cannot make a link: model.id/);
    const s = structuredClone(ioi);
    // Incompressible text: 16 pairs x 2 x 2000 random characters.
    let seed = 1;
    const rnd = () => String.fromCharCode(33 + ((seed = (seed * 48271) % 2147483647) % 90));
    s.experiment.pairs = Array.from({ length: 16 }, () => ({
      clean: Array.from({ length: 2000 }, rnd).join(''), corrupted: Array.from({ length: 2000 }, rnd).join(''), answer: 'a', wrong: 'b',
    }));
    expect(() => encodePermalink(s)).toThrow(/too large for a link/);
  });
});

describe('permalink decoding of untrusted fragments', () => {
  it('reports damage for tampered data', () => {
    const link = encodePermalink(ioi);
    const mid = Math.floor(link.length / 2);
    const flipped = link.slice(0, mid) + (link[mid] === 'A' ? 'B' : 'A') + link.slice(mid + 1);
    expect(errorOf(flipped)).toMatch(/^This link is damaged: /);
    expect(errorOf(link.slice(0, link.length - 10))).toMatch(/^This link is damaged: /); // truncated
    expect(errorOf('#v1.not*base64')).toBe('This link is damaged: the data is not valid base64url');
    expect(errorOf('#v1.')).toBe('This link is damaged: the data is not valid base64url');
    expect(errorOf('#v1.A')).toBe('This link is damaged: the data is not valid base64url');
    expect(errorOf('#hello')).toBe('This link is damaged: it does not start with a version such as "v1."');
    expect(errorOf('#')).toBe('This link has no experiment in it');
    expect(errorOf('')).toBe('This link has no experiment in it');
    expect(errorOf(craft('{not json'))).toBe('This link is damaged: the data is not valid JSON');
    expect(errorOf(`#v1.${bytesToBase64Url(deflateSync(Uint8Array.from([0xff, 0xfe, 0x22])))}`)).toBe('This link is damaged: the data is not valid UTF-8 text');
  });

  it('tells apart a link from a newer version', () => {
    const body = encodePermalink(ioi).slice(3);
    expect(errorOf(`#v2.${body}`)).toBe('This link was made by a newer Patchwork (version v2)');
    expect(errorOf(`#v0.${body}`)).toBe('This link is damaged: unknown version v0');
  });

  it('refuses oversized fragments before decoding them', () => {
    expect(errorOf('#v1.' + 'A'.repeat(MAX_FRAGMENT_CHARS))).toMatch(/^This link is too large/);
    expect(errorOf('#v1.' + 'A'.repeat(10 * MAX_FRAGMENT_CHARS))).toBe('This link is too large');
  });

  it('stops a zip bomb at the decompressed-size limit', () => {
    // 10 MiB of spaces deflates to ~10 KB: inside the fragment limit, far past the 1 MiB output limit.
    const bomb = new Uint8Array(10 * 1024 * 1024).fill(0x20);
    const fragment = `#v1.${bytesToBase64Url(deflateSync(bomb, { level: 9 }))}`;
    expect(fragment.length).toBeLessThan(MAX_FRAGMENT_CHARS);
    expect(errorOf(fragment)).toBe('This link is too large: it expands to more than 1 MiB');
  });

  it('also stops a bomb that overflows inside a stored (uncompressed) block', () => {
    // Stored blocks take another path through the inflater (a bulk copy, not byte writes). Build: 1 MiB of spaces,
    // sync-flushed so the stream is byte-aligned, then a final stored block of 100 bytes by hand
    // (RFC 1951 3.2.4: header bits BFINAL=1 BTYPE=00, then LEN and NLEN little-endian).
    const head = deflateRawSync(new Uint8Array(MAX_JSON_BYTES).fill(0x20), { level: 9, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const tail = Uint8Array.from([0x01, 100, 0, 155, 255, ...new Uint8Array(100).fill(0x20)]);
    const fragment = `#v1.${bytesToBase64Url(new Uint8Array([...head, ...tail]))}`;
    expect(fragment.length).toBeLessThan(MAX_FRAGMENT_CHARS);
    expect(errorOf(fragment)).toBe('This link is too large: it expands to more than 1 MiB');
  });

  it('accepts a percent-encoded fragment, as some chat apps produce', () => {
    const link = encodePermalink(ioi);
    expect(decodePermalink('#' + encodeURIComponent(link.slice(1)).replace(/\./, '%2E'))).toEqual({ ok: true, state: ioi });
    expect(errorOf('#v1.%E0%A4%A')).toBe('This link is damaged: it contains a broken %-escape');
  });

  describe('schema violations', () => {
    it('rejects a javascript: or plain-http model URL', () => {
      expect(errorOf(withState((s) => { s.model = { kind: 'url', url: 'javascript:alert(1)' }; })))
        .toBe('This link is damaged: model.url: only https:// URLs (or http://localhost) can be loaded');
      expect(errorOf(withState((s) => { s.model = { kind: 'url', url: 'http://evil.example/gpt2' }; }))).toMatch(/model\.url/);
      expect(errorOf(withState((s) => { s.model = { kind: 'url', url: 'https://user:pw@host.example/' }; }))).toMatch(/model\.url/);
    });

    it('rejects an unknown builtin model id', () => {
      expect(errorOf(withState((s) => { s.model.id = 'gpt5'; }))).toMatch(/^This link is damaged: model\.id: /);
    });

    it('rejects unknown keys anywhere (strict), including __proto__', () => {
      expect(errorOf(withState((s) => { s.extra = 1; }))).toMatch(/Unrecognized key: "extra"/);
      expect(errorOf(withState((s) => { s.experiment.options.eval = 'x'; }))).toMatch(/experiment\.options: Unrecognized key/);
      const json = JSON.stringify(ioi).replace('{', '{"__proto__":{"polluted":true},');
      expect(errorOf(craft(json))).toMatch(/Unrecognized key: "__proto__"/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('enforces counts, lengths, enums and integer ranges', () => {
      expect(errorOf(withState((s) => { s.experiment.pairs = []; }))).toMatch(/experiment\.pairs: /);
      expect(errorOf(withState((s) => { s.experiment.pairs = Array(17).fill(ioi.experiment.pairs[0]); }))).toMatch(/experiment\.pairs: /);
      expect(errorOf(withState((s) => { s.experiment.pairs[1].clean = 'x'.repeat(2001); }))).toMatch(/experiment\.pairs\[1\]\.clean: /);
      expect(errorOf(withState((s) => { s.experiment.direction = 'sideways'; }))).toMatch(/experiment\.direction: /);
      expect(errorOf(withState((s) => { s.view.tab = 'admin'; }))).toMatch(/view\.tab: /);
      expect(errorOf(withState((s) => { s.view.family = 'toString'; }))).toMatch(/view\.family: /);
      expect(errorOf(withState((s) => { s.view.head.layer = -1; }))).toMatch(/view\.head\.layer: /);
      expect(errorOf(withState((s) => { s.selected.index = [1.5]; }))).toMatch(/selected\.index\[0\]: /);
      expect(errorOf(withState((s) => { s.view.normalised = 'yes'; }))).toMatch(/view\.normalised: /);
      expect(errorOf(withState((s) => { s.view.attentionMode = 'corrupted'; })))
        .toBe('This link is damaged: view.attentionMode: must be "pair" (clean vs corrupted pattern attribution) or "clean" (clean prompt only)');
      expect(errorOf(withState((s) => { s.view.attentionMode = null; }))).toMatch(/^This link is damaged: view\.attentionMode: must be "pair"/);
      expect(errorOf(withState((s) => { s.view.perPosition = 'yes'; })))
        .toBe('This link is damaged: view.perPosition: Invalid input: expected boolean, received string');
      expect(errorOf(craft('[]'))).toMatch(/^This link is damaged: /);
      expect(errorOf(craft('null'))).toMatch(/^This link is damaged: /);
    });

    it('accepts <script> in a prompt as plain text and hands it back untouched', () => {
      const evil = '<script>alert(document.cookie)</script><img src=x onerror=alert(1)>';
      const s = structuredClone(ioi);
      s.experiment.pairs[0].clean = evil;
      const r = decodePermalink(encodePermalink(s));
      expect(r.ok && r.state.experiment.pairs[0].clean).toBe(evil);
      expect(typeof (r.ok && r.state.experiment.pairs[0].clean)).toBe('string');
    });
  });
});

describe('model URLs and confirmation', () => {
  it('allows https anywhere and http only on loopback', () => {
    expect(isAllowedModelUrl('https://huggingface.co/gpt2')).toBe(true);
    expect(isAllowedModelUrl('http://localhost:8000/gpt2/')).toBe(true);
    expect(isAllowedModelUrl('http://127.0.0.1:8000/')).toBe(true);
    expect(isAllowedModelUrl('http://[::1]/')).toBe(true);
    expect(isAllowedModelUrl('http://localhost.evil.example/')).toBe(false);
    expect(isAllowedModelUrl('http://example.com/')).toBe(false);
    expect(isAllowedModelUrl('file:///etc/passwd')).toBe(false);
    expect(isAllowedModelUrl('data:text/html,x')).toBe(false);
    expect(isAllowedModelUrl('JavaScript:alert(1)')).toBe(false);
    expect(isAllowedModelUrl('not a url')).toBe(false);
  });

  it('asks before fetching a url model, never for a builtin one', () => {
    expect(needsConfirmation(ioi)).toBe(false);
    expect(needsConfirmation({ ...ioi, model: { kind: 'url', url: 'https://example.com/m/' } })).toBe(true);
    expect(BUILTIN_MODEL_IDS).toContain('toy-induction');
  });

  it('base64url helpers round-trip every byte value', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = bytesToBase64Url(bytes);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(base64UrlToBytes(s)).toEqual(bytes);
  });
});
