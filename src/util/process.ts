import { readFileSync } from 'node:fs';

/**
 * Whether a process with this pid is running (EPERM: it exists but belongs to someone else). A zombie
 * (exited, not yet reaped) counts as gone: signal 0 still reaches it, and where PID 1 never reaps
 * orphans (many containers) it would otherwise look alive forever.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux: state Z (zombie) or X (dead) in /proc/<pid>/stat. Elsewhere, or unreadable: not known to be one. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) state ppid …"; comm may contain spaces and parentheses, so read after the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}
