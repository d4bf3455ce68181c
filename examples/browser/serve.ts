/**
 * `npm run example:browser`: build the browser bundle and serve the example page on localhost.
 *   npm run example:browser -- [--port 8080] [--models demo-output] [--no-isolation]
 * The page is served with COOP/COEP headers (cross-origin isolated) so wasm may use threads.
 */
import { createReadStream, fstatSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildExample, REPO_ROOT } from './bundle.js';
import { isProcessAlive, procStat } from '../../src/util/process.js';

const PAGE_DIR = dirname(fileURLToPath(import.meta.url));
/** `npm run demo` writes here; the server finds every student directory (one with a student.json) inside it. */
export const DEFAULT_MODELS_DIR = join(REPO_ROOT, 'demo-output');
/** GET /models/index.json lists the students found under the models directory. */
const INDEX_PATH = '/models/index.json';
const MAX_DEPTH = 4;

export interface FoundStudent {
  /** URL path relative to the page, e.g. `models/students/iterative/`. */
  url: string;
  kind: string;
}

/** Student directories under `root` (breadth-first, shallowest first), iterative ones first. */
export async function findStudents(root: string): Promise<FoundStudent[]> {
  const found: FoundStudent[] = [];
  let level: string[] = [''];
  for (let depth = 0; depth <= MAX_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
      if (entries.some((e) => e.isFile() && e.name === 'student.json')) {
        const manifest = JSON.parse(await readFile(join(root, rel, 'student.json'), 'utf8').catch(() => '{}')) as { kind?: unknown };
        found.push({ url: `models/${rel}`, kind: typeof manifest.kind === 'string' ? manifest.kind : 'unknown' });
        continue; // a student's qg/ and qa/ are not students of their own
      }
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) next.push(`${rel}${e.name}/`);
    }
    level = next.sort();
  }
  return found.sort((a, b) => Number(b.kind === 'iterative') - Number(a.kind === 'iterative'));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};

export interface ExampleServerOptions {
  /** Directory with the built index.js, app.js and .wasm files (served as /lib/). */
  libDir: string;
  /** Student directories (served as /models/). */
  modelsDir: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Send COOP/COEP so the page is cross-origin isolated (wasm threads). Default true. */
  isolate?: boolean;
}

export interface ExampleServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Map a request path onto one of the three roots; null when it escapes them. */
function locate(pathname: string, options: ExampleServerOptions): string | null {
  const routes: Array<[string, string]> = [
    ['/lib/', options.libDir],
    ['/models/', options.modelsDir],
    ['/', PAGE_DIR],
  ];
  for (const [prefix, root] of routes) {
    if (!pathname.startsWith(prefix)) continue;
    const rest = pathname.slice(prefix.length) || 'index.html';
    const file = resolve(root, rest);
    return file === root || file.startsWith(root + sep) ? file : null;
  }
  return null;
}

/** Makes the page cross-origin isolated, which SharedArrayBuffer (wasm threads) needs. */
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

export function startExampleServer(options: ExampleServerOptions): Promise<ExampleServer> {
  const isolate = options.isolate ?? true;
  const server = createServer((req, res) => {
    void (async () => {
      let pathname: string;
      try {
        pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      } catch {
        res.writeHead(400).end('bad request path');
        return;
      }
      if (pathname === INDEX_PATH) {
        const body = JSON.stringify(await findStudents(options.modelsDir));
        res.writeHead(200, { 'content-type': TYPES['.json']!, ...(isolate ? ISOLATION : {}) }).end(body);
        return;
      }
      const file = locate(pathname, options);
      const info = file ? await stat(file).catch(() => null) : null;
      if (!file || !info?.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}`);
        return;
      }
      const headers: Record<string, string | number> = {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-cache',
      };
      if (isolate) Object.assign(headers, ISOLATION);
      res.writeHead(200, headers);
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    })();
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const { address, port } = server.address() as AddressInfo;
      resolvePromise({
        url: `http://${address}:${port}/`,
        server,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  // Who started us, read before anything slow: a parent that dies while the bundle builds must still count.
  const starters = { pids: ancestors(), parent: process.ppid };
  const args = process.argv.slice(2);
  const libDir = join(PAGE_DIR, 'build');
  const modelsDir = resolve(argValue(args, '--models') ?? DEFAULT_MODELS_DIR);
  const bundle = await buildExample(libDir);
  console.log(`browser bundle: ${(bundle.bytes / 1024).toFixed(0)} KiB, ${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzip (without .wasm)`);
  const running = await startExampleServer({ libDir, modelsDir, port: Number(argValue(args, '--port') ?? 8080), isolate: !args.includes('--no-isolation') });
  // Before the "serving" line: whoever reads it may stop us at once.
  stopWithParent(running, starters);
  const students = await findStudents(modelsDir);
  console.log(`serving ${running.url}  (students from ${modelsDir})`);
  for (const s of students) console.log(`  ${s.kind.padEnd(12)} ${running.url}?student=${s.url}`);
  if (students.length === 0) console.log(`no trained students under ${modelsDir} yet: run \`npm run demo\` first (or pass --models DIR)`);
}

/** The pids above this process (parent, grandparent, … below init), from /proc on Linux; else just the parent. */
function ancestors(): number[] {
  const pids: number[] = [];
  let pid = process.ppid;
  while (pid > 1 && pids.length < 32) {
    pids.push(pid);
    const stat = procStat(pid);
    if (!stat) break;
    pid = stat.ppid;
  }
  return pids;
}

function stdinIsPipe(): boolean {
  try {
    return fstatSync(0).isFIFO();
  } catch {
    return false;
  }
}

/**
 * `npm run example:browser` runs this server as a grandchild (npm -> sh -> tsx -> node). Stopping npm must
 * not leave the port taken: close on SIGINT/SIGTERM/SIGHUP, when a piped stdin closes, and when any
 * process that started us goes away (npm killed with SIGKILL forwards nothing).
 */
function stopWithParent(running: ExampleServer, starters: { pids: number[]; parent: number }): void {
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`stopping the example server (${why})`);
    clearInterval(watch);
    running.server.closeAllConnections();
    // close() waits for open sockets; the port must be freed even if one lingers, so exit regardless soon after.
    setTimeout(() => process.exit(0), 1000).unref();
    void running.close().finally(() => process.exit(0));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop(signal));
  // Only a pipe: a terminal never closes, and /dev/null (a background job's stdin) is closed from the start.
  if (stdinIsPipe()) {
    process.stdin.once('end', () => stop('stdin closed')).resume();
  }
  const { pids: watched, parent } = starters;
  const watch = setInterval(() => {
    const gone = watched.find((pid) => !isProcessAlive(pid)) ?? (process.ppid !== parent ? parent : undefined);
    if (gone !== undefined) stop(`process ${gone} that started it exited`);
  }, 500);
  watch.unref();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
