/**
 * Pack this repository with `npm pack` and install the tarball into a fresh temporary project,
 * exactly as a user would get it, so tests can run the installed `socratic-distill` bin and import
 * the installed package. Dependencies come from the npm cache (`--prefer-offline`), so a warm cache
 * makes this take seconds; the registry is only asked for what the cache lacks.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const REPO_ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);

export interface PackedInstallOptions {
  /** Extra environment for `npm install` (e.g. SOCRATIC_DISTILL_SKIP_NATIVE=1, or a PATH without a compiler). */
  env?: Record<string, string>;
  /** Extra `npm install` arguments, e.g. `--allow-scripts=socratic-distill`. */
  installArgs?: string[];
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PackedInstall {
  /** The temporary project the tarball was installed into (its cwd for commands). */
  project: string;
  tarball: string;
  /** Files that `npm pack` put into the tarball, relative to the package root. */
  files: string[];
  /** Output of `npm install`, e.g. to check its warnings. */
  installLog: string;
  /** Run a shell command line in the project (e.g. `npx socratic-distill --help`); never throws on exit codes. */
  sh(commandLine: string, options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CommandResult>;
  remove(): Promise<void>;
}

/** `npm run build` when dist/ is missing (CI builds before testing, so usually this is skipped). */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(join(REPO_ROOT, 'dist/cli.js')) && existsSync(join(REPO_ROOT, 'dist/index.js'))) return;
  await run('npm', ['run', 'build'], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
}

export async function packAndInstall(options: PackedInstallOptions = {}): Promise<PackedInstall> {
  await ensureBuilt();
  const root = await mkdtemp(join(tmpdir(), 'socratic-packed-'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', root], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  const tarball = join(root, info.filename);
  const project = join(root, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'packed-install-test', private: true, type: 'module' }, null, 2));
  const env = { ...process.env, ...options.env };
  // npm_config_* variables of an enclosing `npm test` (e.g. its prefix) must not steer this install.
  for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...(options.installArgs ?? []), tarball], {
    cwd: project,
    env,
    maxBuffer: 64 << 20,
  });
  const sh = (commandLine: string, o: { env?: Record<string, string>; timeoutMs?: number } = {}) =>
    new Promise<CommandResult>((done) => {
      const childEnv = { ...env, ...o.env };
      const child = spawn('sh', ['-c', commandLine], { cwd: project, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr });
      });
    });
  return {
    project,
    tarball,
    files: info.files.map((f) => f.path),
    installLog: `${install.stdout}${install.stderr}`,
    sh,
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
