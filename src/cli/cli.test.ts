// The CLI as a user runs it: `patchwork attribute|patch` on a Hugging Face layout folder, JSON contract and messages.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomCheckpoint } from '../engine/model/weights-node';
import { parseGPT2Config } from '../engine/model/config';
import { cli } from '../../test/helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-cli-'));
const model = join(dir, 'model');
const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 32, vocab_size: 50257 }, 'cli-tiny');

beforeAll(async () => {
  await writeRandomCheckpoint(model, cfg, 5);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['--model', model, '--clean', 'When John and Mary went to the store, John gave a bag to',
  '--corrupted', 'When John and Mary went to the store, Mary gave a bag to', '--answer', ' Mary', '--wrong', ' John'];
const nPos = 15; // with <|endoftext|> prepended

describe('patchwork CLI', () => {
  it('attribute writes the JSON contract', async () => {
    const out = join(dir, 'attr.json');
    const r = await cli(['attribute', ...base, '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/attribution .* in \d+ ms/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.tokens.clean).toHaveLength(nPos);
    expect(j.tokens.clean[0]).toBe(50256);
    expect(j.tokens.answer).toBe(5335);
    expect(j.tokens.wrong).toBe(1757);
    expect(j.metric.name).toBe('logit_diff');
    const a = j.attribution;
    for (const f of ['resid_pre', 'attn_out', 'mlp_out']) expect([a[f].length, a[f][0].length]).toEqual([2, nPos]);
    expect([a.head_out.length, a.head_out[0].length, a.head_out[0][0].length]).toEqual([2, 2, nPos]);
    for (const f of ['head_out_all_pos', 'q', 'k', 'v', 'pattern']) expect([a[f].length, a[f][0].length]).toEqual([2, 2]);
    // Positions before the first difference carry no attribution in resid_pre (clean = corrupted there).
    expect(a.resid_pre[0].slice(0, 10).every((x: number) => x === 0)).toBe(true);
    expect(Math.abs(a.resid_pre[0][10])).toBeGreaterThan(0);
  });

  it('patch sweeps the given targets, progress on stderr, values relative to the corrupted run', async () => {
    const r = await cli(['patch', ...base, '--targets', 'resid_pre,head_out_all_pos']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j.activation)).toEqual(['resid_pre', 'head_out_all_pos']);
    // Patching the whole residual stream at layer 0, position 10 (the only difference) restores the clean metric.
    const restored = j.metric.corrupted + j.activation.resid_pre[0][10];
    expect(restored).toBeCloseTo(j.metric.clean, 4);
    expect(Math.abs(j.activation.resid_pre[1][3])).toBeLessThan(1e-6);
    // stderr is a pipe here, not a terminal: plain lines, not cli-progress's raw "{family}" and a bogus duration
    // (issue 14, item 9).
    expect(r.stderr).toMatch(/^patching resid_pre$/m);
    expect(r.stderr).toMatch(/^patched resid_pre: 30 patches in \d+\.\d s$/m);
    expect(r.stderr).toMatch(/^patched head_out_all_pos: 4 patches in \d+\.\d s$/m);
    expect(r.stderr).not.toMatch(/[{}]/);
  });

  it('Ctrl-C exits 130 and leaves no output file', async () => {
    const out = join(dir, 'interrupted.json');
    const child = spawn('node', ['bin/patchwork.js', 'patch', ...base, '--families', 'mlp_post,head_out', '--json', out]);
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += String(d);
        if (/patching mlp_post/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/patchwork: interrupted/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('interrupted'))).toEqual([]);
  });

  it.each([
    [['--corrupted', 'When John and Mary went to the store, Marigold gave a bag to'], /clean prompt is 15 tokens and the corrupted prompt 17[\s\S]*clean: .*·John[\s\S]*corrupted: .*·Mar \| ig \| old/],
    // A multi-token answer is scored by teacher forcing (forced.test.ts, which also checks --metric prob refusing it).
    [['--answer', ' Marigold', '--wrong', ' Marigold'], /answer and the wrong answer are the same tokens \(·Mar \| ig \| old\)/],
    [['--clean', ''], /clean prompt is empty/],
    [['--clean', 'word '.repeat(40), '--corrupted', 'word '.repeat(40)], /41 tokens; cli-tiny reads at most 32|model reads at most 32|at most 32/],
    [['--metric', 'accuracy'], /argument 'accuracy' is invalid.*logit_diff/],
  ])('bad input %#: clear message, exit code 2, no stack trace', async (extra, message) => {
    const args = [...base];
    for (let i = 0; i < extra.length; i += 2) {
      const k = args.indexOf(extra[i] as string);
      args[k + 1] = extra[i + 1] as string;
      if (k < 0) args.push(extra[i] as string, extra[i + 1] as string);
    }
    const r = await cli(['attribute', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('unknown target names are listed with the valid ones', async () => {
    const r = await cli(['patch', ...base, '--targets', 'resid_pre,heads']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown target "heads"; choose from resid_pre/);
  });
});
