/**
 * `npm run example:browser` must not leave its server listening once the npm process is gone:
 * the server runs as a grandchild of npm (npm -> sh -> tsx -> node), which a killed npm does not take down.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
let npm: ChildProcess | undefined;
afterEach(() => {
  if (npm?.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
});

/** Start the example through npm and wait for the port it prints. */
async function startThroughNpm(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  // A new process group, so the test can also check nothing of it is left; --port 0 picks a free port.
  const child = spawn('npm', ['run', 'example:browser', '--', '--port', '0', '--models', resolve(ROOT, 'test')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  npm = child;
  let out = '';
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no "serving" line in 90 s:\n${out}`)), 90_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        done(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code) => fail(new Error(`npm exited with ${code} before serving:\n${out}`)));
  });
  return { child, port, output: () => out };
}

/** What is left of the npm process group, for a failure message (CI once kept the port after SIGTERM). */
function leftovers(child: ChildProcess, output: string): string {
  let tree = '';
  try {
    tree = execSync(`ps -o pid,ppid,stat,args -g ${child.pid}`, { encoding: 'utf8' });
  } catch {
    tree = '(no process of the group left)';
  }
  return `port still taken; processes:\n${tree}\noutput:\n${output}`;
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

async function freedWithin(port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await listening(port))) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

describe('npm run example:browser', () => {
  it('frees its port when the npm process is killed outright (SIGKILL forwards nothing)', async () => {
    const { child, port } = await startThroughNpm();
    expect(await listening(port)).toBe(true);
    child.kill('SIGKILL');
    expect(await freedWithin(port, 10_000)).toBe(true);
  }, 120_000);

  it('frees its port when npm is stopped with SIGTERM', async () => {
    const { child, port, output } = await startThroughNpm();
    expect(await listening(port)).toBe(true);
    child.kill('SIGTERM');
    const freed = await freedWithin(port, 10_000);
    expect(freed, freed ? '' : leftovers(child, output())).toBe(true);
  }, 120_000);

  it('stops when the process that started it exits while the server is still starting up', async () => {
    // sh starts the server in the background and exits as soon as the server has started work (its first line,
    // printed before the port is bound): a parent lost while the server is still starting up.
    const log = join(mkdtempSync(join(tmpdir(), 'sd-serve-')), 'out.log');
    const script = `npx tsx examples/browser/serve.ts --port 0 --models ${JSON.stringify(resolve(ROOT, 'test'))} > ${log} 2>&1 & echo $!; until grep -q 'browser bundle' ${log}; do sleep 0.05; done`;
    const sh = spawn('sh', ['-c', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const serverPid = Number(await new Promise<string>((done) => sh.stdout!.once('data', (d: Buffer) => done(String(d).trim()))));
    const until = Date.now() + 90_000;
    let alive = true;
    while (alive && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      try {
        process.kill(serverPid, 0);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    expect(readFileSync(log, 'utf8')).toMatch(/stopping the example server \(process \d+ that started it exited\)/);
  }, 120_000);
});

