import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isProcessAlive } from '../src/util/process.js';

describe('isProcessAlive', () => {
  it('is true for this process and false for a pid that does not exist', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 12345)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')('counts a zombie (exited, never reaped) as gone', async () => {
    // `sleep 0` becomes a child of the exec'd `sleep 5`, which never waits for it: a zombie while sleep 5 runs.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((done) => parent.stdout.once('data', (d: Buffer) => done(String(d).trim()))));
      let zombie = false;
      for (let i = 0; i < 50 && !zombie; i++) {
        await new Promise((r) => setTimeout(r, 50));
        zombie = /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      }
      expect(zombie).toBe(true);
      expect(() => process.kill(pid, 0)).not.toThrow(); // signal 0 still reaches it...
      expect(isProcessAlive(pid)).toBe(false); // ...but it is not running
      expect(isProcessAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
