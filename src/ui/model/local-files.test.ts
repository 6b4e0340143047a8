import { describe, expect, it } from 'vitest';
import { pickModelFiles } from './local-files';

const file = (name: string, path = '') => Object.assign(new File(['x'], name), { webkitRelativePath: path }) as File;

describe('pickModelFiles', () => {
  it('finds config.json and model.safetensors and names the model after its folder', () => {
    const r = pickModelFiles([file('README.md', 'gpt2/README.md'), file('config.json', 'gpt2/config.json'), file('model.safetensors', 'gpt2/model.safetensors')]);
    expect('error' in r).toBe(false);
    expect(r).toMatchObject({ name: 'gpt2' });
  });

  it('says what is missing', () => {
    expect(pickModelFiles([file('config.json')])).toEqual({ error: expect.stringMatching(/model\.safetensors is missing \(got config\.json\)/) });
    expect(pickModelFiles([])).toEqual({ error: expect.stringMatching(/config\.json and model\.safetensors are missing/) });
  });
});
