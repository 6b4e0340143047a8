// The CLI's answers to bad input and damaged checkpoints (issue 16, issue 14 item 9), run in-process through the same
// main() that bin/patchwork.js calls (cli.test.ts runs the binary itself): every case exits 2 with a specific
// message, or runs with a warning, never exits 0 with nulls.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hfConfigJson, randomCheckpoint } from '../engine/model/checkpoint';
import { parseGPT2Config } from '../engine/model/config';
import { encodeSafetensors, type TensorToWrite } from '../engine/model/safetensors';
import { FAMILIES } from '../engine/patching';
import type { GPT2Config } from '../engine/model/types';
import { emit, main, type CommonOpts } from './main';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-cli-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 32, vocab_size: 50257 }, 'cli-tiny');

async function checkpoint(name: string, c: GPT2Config, edit: (t: Map<string, TensorToWrite>) => void = () => {}) {
  const { tensors, metadata } = randomCheckpoint(c, 5);
  edit(tensors);
  const out = join(dir, name);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'config.json'), JSON.stringify(hfConfigJson(c)));
  await writeFile(join(out, 'model.safetensors'), encodeSafetensors(tensors, metadata));
  return out;
}

let model: string;
beforeAll(async () => {
  model = await checkpoint('model', cfg);
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  process.exitCode = undefined;
  try {
    await main(['node', 'patchwork', ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout, stderr };
}

const clean = 'When John and Mary went to the store, John gave a bag to';
const corrupted = 'When John and Mary went to the store, Mary gave a bag to';
const base = () => ['--model', model, '--clean', clean, '--corrupted', corrupted, '--answer', ' Mary', '--wrong', ' John'];
const noStack = (r: { stderr: string }) => expect(r.stderr).not.toMatch(/\n\s+at /);

describe('damaged checkpoints', () => {
  it.each([
    ['all of wte NaN', (t: Map<string, TensorToWrite>) => t.get('wte.weight')!.data.fill(NaN), /wte\.weight has 804112 NaN of 804112/],
    ['one Inf in one MLP weight', (t: Map<string, TensorToWrite>) => void (t.get('h.1.mlp.c_fc.weight')!.data[100] = Infinity), /h\.1\.mlp\.c_fc\.weight has 1 Inf of 1024/],
    ["NaN in one token's embedding row", (t: Map<string, TensorToWrite>) => t.get('wte.weight')!.data.fill(NaN, 5335 * 16, 5336 * 16), /wte\.weight has 16 NaN of 804112/],
  ])('non-finite weights (%s): exit 2 naming the tensor and count, not exit 0 with nulls', async (name, edit, message) => {
    const damaged = await checkpoint(name.replace(/\W+/g, '-'), cfg, edit);
    const r = await cli(['attribute', ...base().map((a) => (a === model ? damaged : a))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/patchwork: the checkpoint has non-finite weights \(NaN or Inf\): /);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    noStack(r);
  });

  it('activations that overflow float32: exit 2 naming where the first non-finite value appears', async () => {
    const overflowing = await checkpoint('overflow', cfg, (t) => t.get('ln_f.weight')!.data.fill(3e38));
    for (const command of ['attribute', 'patch']) {
      const r = await cli([command, ...base().map((a) => (a === model ? overflowing : a)), '--families', 'resid_pre']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/patchwork: The clean metric is (NaN|-?Infinity): the model's activations overflow float32, or its weights are damaged\./);
      expect(r.stdout).toBe('');
    }
  });

  it('vocab_size smaller than the tokenizer ids: a message before running, not a Gather error', async () => {
    const small = await checkpoint('small-vocab', parseGPT2Config({ model_type: 'gpt2', n_layer: 1, n_head: 2, n_embd: 16, n_positions: 32, vocab_size: 3000 }, 'x'));
    const r = await cli(['attribute', ...base().map((a) => (a === model ? small : a))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/The clean prompt has tokens this model cannot embed: <\|endoftext\|> \(id 50256\), ·Mary \(id 5335\), ·store \(id 3650\), ·bag \(id 6131\)\. small-vocab has vocab_size 3000/);
    expect(r.stderr).not.toMatch(/Gather|onnxruntime/i);
  });
});

describe('bad values', () => {
  it('answer equal to wrong answer exits 2', async () => {
    const r = await cli(['attribute', ...base().map((a) => (a === ' John' ? ' Mary' : a))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/The answer and the wrong answer are the same token \(·Mary\), so logit_diff is 0 in every run/);
  });

  it('identical prompts run, with a warning on stderr', async () => {
    const r = await cli(['attribute', ...base().map((a) => (a === corrupted ? clean : a)), '--families', 'resid_pre']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: The clean and corrupted prompts are identical, so every activation patch and its attribution estimate is 0/);
    expect(JSON.parse(r.stdout).attribution.resid_pre.flat().every((x: number) => x === 0)).toBe(true);
  });

  it.each([
    [['--metric', 'mean_logprob', '--positions', '1,,2'], /option '--positions <list>' argument '1,,2' is invalid\. an empty item: give whole numbers separated by commas/],
    [['--metric', 'mean_logprob', '--positions', '0x2'], /argument '0x2' is invalid\. "0x2" is not a position: give whole numbers/],
    [['--top-k', '-5'], /option '--top-k <k>' argument '-5' is invalid\. give a whole number >= 1\./],
    [['--top-k', 'abc'], /option '--top-k <k>' argument 'abc' is invalid\. give a whole number >= 1\./],
    [['--threads', '0'], /option '--threads <n>' argument '0' is invalid\. give a whole number >= 1\./],
  ])('strict whole numbers %#: %j exits 2', async (extra, message) => {
    const r = await cli(['attribute', ...base(), ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/loaded/);
    noStack(r);
  });

  it('--positions reads exactly the positions given', async () => {
    const r = await cli(['attribute', ...base(), '--metric', 'mean_logprob', '--positions', '3, 7,12', '--families', 'resid_pre']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('--threads 100000 is bounded by the cores, with a message', async () => {
    const t0 = performance.now();
    const r = await cli(['attribute', ...base(), '--threads', '100000', '--families', 'resid_pre']);
    expect(r.code, r.stderr).toBe(0);
    const cores = availableParallelism();
    expect(r.stderr).toContain(`100000 threads requested, but this machine has ${cores} cores: using ${cores}`);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});

describe('usage errors exit 2, as the README promises', () => {
  it.each([
    [['attribute', '--clean', 'a'], /required option '--model <dir>' not specified/],
    [['attribute', ...['--model', 'm', '--clean', 'a', '--corrupted', 'b', '--answer', ' a', '--wrong', ' b'], '--colour', 'red'], /unknown option '--colour'/],
    [['attribute', ...['--model', 'm', '--clean', 'a', '--corrupted', 'b', '--answer', ' a', '--wrong', ' b'], '--direction', 'sideways'], /argument 'sideways' is invalid\. Allowed choices are denoising, noising/],
    [['attribute', ...['--model', 'm', '--clean', 'a', '--corrupted', 'b', '--answer', ' a', '--wrong', ' b'], '--families', 'resid_pre,heads'], /Unknown target "heads"; choose from resid_pre/],
    [['patch', ...['--model', 'm', '--clean', 'a', '--corrupted', 'b', '--answer', ' a', '--wrong', ' b'], '--families', 'q', '--targets', 'k'], /option '--targets <list>' cannot be used with option '--families <list>'/],
    [['transmogrify'], /unknown command 'transmogrify'/],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--help exits 0 and lists the family names', async () => {
    for (const command of ['attribute', 'patch']) {
      const r = await cli([command, '--help']);
      expect(r.code).toBe(0);
      const help = r.stdout.replace(/\s+/g, ' ');
      for (const f of FAMILIES) expect(help).toMatch(new RegExp(`[ :,]${f}[,) ]`));
    }
  });

  it('leaving out --wrong says that logit_diff needs it, not `"" is 0 tokens`', async () => {
    const r = await cli(['attribute', ...base().slice(0, -2)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--wrong is required for the logit_diff metric \(the default\)/);
    expect(r.stderr).not.toMatch(/0 tokens/);
    expect(r.stderr).not.toMatch(/loaded/);
  });
});

describe('patch takes --families like attribute (--targets kept)', () => {
  it('both names give the same sweep', async () => {
    const a = await cli(['patch', ...base(), '--families', 'resid_pre']);
    const b = await cli(['patch', ...base(), '--targets', 'resid_pre']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    expect(Object.keys(JSON.parse(a.stdout).activation)).toEqual(['resid_pre']);
  });
});

describe('output', () => {
  it.each([
    ['a folder that does not exist', () => join(dir, 'missing', 'out.json'), /cannot write .*out\.json: the folder .*missing does not exist/],
    ['a path through a file', () => join(model, 'config.json', 'out.json'), /cannot write .*out\.json: .*config\.json is not a folder/],
  ])('an unwritable --json path (%s) exits 2 before anything is loaded or computed', async (_, path, message) => {
    const r = await cli(['patch', ...base(), '--json', path()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/loaded|patching/);
  });

  it('emit streams: no single write holds the whole result', () => {
    const n = 4 * 4 * 300 * 300;
    const result = { attribution: { pattern_by_pos: { axes: ['layer', 'head', 'query_pos', 'key_pos'], shape: [4, 4, 300, 300], data: Float64Array.from({ length: n }, (_, i) => Math.cos(i)) } } };
    const sizes: number[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c) => (sizes.push(String(c).length), true));
    try {
      emit({} as CommonOpts, result);
    } finally {
      spy.mockRestore();
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(20e6);
    expect(Math.max(...sizes)).toBeLessThan(1.1 * (1 << 20));
  });

  it('pattern_by_pos on a 596-token prompt writes the whole [layer][head][query_pos][key_pos] array', async () => {
    const long = await checkpoint('long', parseGPT2Config({ model_type: 'gpt2', n_layer: 1, n_head: 2, n_embd: 8, n_positions: 600, vocab_size: 50257 }, 'long'));
    const words = Array.from({ length: 595 }, (_, i) => [' the', ' cat', ' sat', ' on', ' mat'][i % 5]).join('');
    const out = join(dir, 'long.json');
    const r = await cli(['attribute', '--model', long, '--clean', `A${words}`, '--corrupted', `The${words}`, '--answer', ' Mary', '--wrong', ' John', '--families', 'pattern_by_pos', '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.tokens.clean).toHaveLength(597);
    const p = j.attribution.pattern_by_pos;
    expect([p.length, p[0].length, p[0][0].length, p[0][0][0].length]).toEqual([1, 2, 597, 597]);
    expect(p.flat(3).every((x: unknown) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
    // A key after its query is masked: no attribution there.
    expect(p[0][1][10][11]).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('an error after the output path was checked leaves no file', async () => {
    const out = join(dir, 'never.json');
    writeFileSync(join(dir, 'placeholder'), '');
    const overflowing = join(dir, 'overflow');
    const r = await cli(['attribute', ...base().map((a) => (a === model ? overflowing : a)), '--json', out]);
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('never'))).toEqual([]);
  });
});
