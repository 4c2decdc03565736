// Starts `dsv4 serve` for the node tests: a free loopback port (--port-file), the server's
// stderr collected for failure messages, and its exit awaited.
// Usage: const s = await startServer(binary, ['--model', dir, ...]); ... s.log(); await s.exited
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function startServer(binary, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsv4-serve-'));
  const portFile = path.join(dir, 'port');
  const child = spawn(binary, ['serve', '--port', '0', '--port-file', portFile, ...args],
                      {stdio: ['ignore', 'inherit', 'pipe']});
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({code, signal})));
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
