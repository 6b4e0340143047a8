import { describe, expect, it } from 'vitest';
import { hostsOnly, loadErrorView } from './load-error';

const offline = 'Could not load GPT-2 Small: could not download https://huggingface.co/openai-community/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/config.json: Failed to fetch';

describe('loadErrorView', () => {
  it('says the hub cannot be reached, without the raw URL, and keeps the raw message as detail', () => {
    const v = loadErrorView(offline, { label: 'GPT-2 Small', hub: 'openai-community/gpt2', stillLoaded: 'Toy induction (offline)' });
    expect(v.summary).toBe('GPT-2 Small could not be downloaded: the Hugging Face hub cannot be reached (offline, or huggingface.co is blocked). The offline toy models work without a network. Toy induction (offline) is still loaded.');
    expect(v.summary).not.toMatch(/https?:\/\//);
    expect(v.detail).toBe(offline);
  });

  it('names a non-hub server and other browsers\' words for a network failure', () => {
    expect(loadErrorView('could not download http://localhost:1/x/config.json: NetworkError when attempting to fetch resource.', { label: 'Custom URL' }).summary)
      .toBe('Custom URL could not be downloaded: its server cannot be reached (offline, or the address is wrong).');
  });

  it('shortens URLs in other errors to their host and keeps the full text', () => {
    const e = 'could not download https://example.org/m/model.safetensors: HTTP 404 Not Found (check the repository, commit and file name)';
    expect(loadErrorView(e, { label: 'x' })).toEqual({ summary: 'could not download example.org: HTTP 404 Not Found (check the repository, commit and file name)', detail: e });
    expect(loadErrorView('Download cancelled; nothing was cached.', { label: 'x' })).toEqual({ summary: 'Download cancelled; nothing was cached.', detail: null });
  });

  it('hostsOnly leaves text without URLs alone and drops trailing punctuation', () => {
    expect(hostsOnly('no url here')).toBe('no url here');
    expect(hostsOnly('see https://a.example/b/c.')).toBe('see a.example.');
  });
});
