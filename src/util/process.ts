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
  const state = procStat(pid)?.state;
  return state !== 'Z' && state !== 'X';
}

/** Linux /proc/<pid>/stat: the state letter and the parent pid; undefined elsewhere or when unreadable. */
export function procStat(pid: number): { state: string; ppid: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …"; comm may contain spaces and parentheses, so read after the last ')'.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: state ?? '', ppid: Number(ppid) };
}
