/**
 * `npm run example:browser` must not leave its server listening once the npm process is gone:
 * the server runs as a grandchild of npm (npm -> sh -> tsx -> node), which a killed npm does not take down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');
let npm: ChildProcess | undefined;
afterEach(() => {
  if (npm?.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
});

/** Start the example through npm and wait for the port it prints. */
async function startThroughNpm(): Promise<{ child: ChildProcess; port: number }> {
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
  return { child, port };
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
    const { child, port } = await startThroughNpm();
    expect(await listening(port)).toBe(true);
    child.kill('SIGTERM');
    expect(await freedWithin(port, 10_000)).toBe(true);
  }, 120_000);
});
