// Starts `dsv4 serve` for the node tests: a free loopback port (--port-file), the server's
// stderr collected for failure messages, and its exit awaited.
// Usage: const s = await startServer(binary, ['--model', dir, ...]); ... s.log(); await s.exited
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function startServer(binary, args, cwd = undefined) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsv4-serve-'));
  const portFile = path.join(dir, 'port');
  const child = spawn(binary, ['serve', '--port', '0', '--port-file', portFile, ...args],
                      {cwd, stdio: ['ignore', 'inherit', 'pipe']});
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  // 'close', not 'exit': the log pipe is drained by then, so checks of the last lines hold.
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({code, signal})));
  let port = 0;
  for (let i = 0; i < 600 && !port; ++i) {  // the model loads in about a second; be generous
    if (fs.existsSync(portFile)) port = Number(fs.readFileSync(portFile, 'utf8').trim());
    else if (child.exitCode !== null) break;
    else await new Promise((r) => setTimeout(r, 100));
  }
  fs.rmSync(dir, {recursive: true, force: true});
  if (!port) {
    child.kill('SIGKILL');
    throw new Error('server did not start:\n' + log);
  }
  return {
    child, port, base: `http://127.0.0.1:${port}`, exited,
    log: () => log,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// The model the node tests serve: the bundled trained model (models/dsv4-mini) when the
// checkout has it, else the tiny random model with the byte-level test tokenizer of
// make_test_model.mjs (DSV4_TEST_MODEL=tiny forces that). Returns the serve arguments,
// the directory to run it in, the tokenizer (for token ids in logit_bias) and whether the
// model is trained. The bundled model is served as the default (no --model, run from the
// source directory), so the tests also check that serve picks it up.
export function testModel(source, work) {
  const bundled = path.join(source, 'models', 'dsv4-mini');
  if (process.env.DSV4_TEST_MODEL !== 'tiny' && fs.existsSync(path.join(bundled, 'model.safetensors')) &&
      fs.existsSync(path.join(bundled, 'tokenizer.json'))) {
    return {args: [], cwd: source, dir: bundled, trained: true,
            tokenizer: JSON.parse(fs.readFileSync(path.join(bundled, 'tokenizer.json'), 'utf8'))};
  }
  const dir = path.join(work, 'model');
  const here = path.dirname(new URL(import.meta.url).pathname);
  execFileSync(process.execPath, [path.join(here, 'make_test_model.mjs'), source, dir]);
  return {args: ['--model', dir], dir, trained: false,
          tokenizer: JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'))};
}

// The id of a token given its text (a vocabulary entry in the byte-level alphabet, or an
// added token), or undefined.
export function tokenId(tokenizer, text) {
  const added = tokenizer.added_tokens.find((t) => t.content === text);
  if (added) return added.id;
  const bytes = [...Buffer.from(text, 'utf8')].map((b) => BYTE_TO_UNICODE[b]).join('');
  return tokenizer.model.vocab[bytes];
}

// GPT-2's byte-level alphabet (the pre-tokenizer's byte -> character map).
const BYTE_TO_UNICODE = (() => {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const map = {};
  for (const b of bs) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; ++b) if (!(b in map)) map[b] = String.fromCodePoint(256 + n++);
  return map;
})();
