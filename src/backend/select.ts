import type { ModelConfig } from '../arch/config.js';
import { BackendUnavailableError } from '../errors.js';
import { type NativeProbe, probeNativeCpu, probeNativeCuda } from './native/probe.js';
import { createTfjsCore } from './tfjs/core.js';
import { type TfjsBackendName, type TfjsRuntimeInfo, initTfjsBackend, tfjsNodeGpuHelp } from './tfjs/runtime.js';
import type { BackendPreference, BackendReport, CoreInfo, CoreInit, TransformerCore } from './types.js';

type CandidateId = 'native-cuda' | 'tfjs-node-gpu' | 'native-cpu' | 'tfjs-wasm' | 'tfjs-cpu';
type Chosen = Omit<BackendReport, 'skipped' | 'summary'>;
type Attempt = { ok: true; report: Chosen } | { ok: false; reason: string; cause?: unknown };

/** Fastest first, as measured in bench/ on the machines we have (GPU > native C++ > wasm SIMD > plain JS). */
const ORDER: Record<BackendPreference, CandidateId[]> = {
  auto: ['native-cuda', 'tfjs-node-gpu', 'native-cpu', 'tfjs-wasm', 'tfjs-cpu'],
  cuda: ['native-cuda', 'tfjs-node-gpu'],
  cpu: ['native-cpu', 'tfjs-wasm', 'tfjs-cpu'],
  native: ['native-cpu'],
  wasm: ['tfjs-wasm'],
  'tfjs-cpu': ['tfjs-cpu'],
};

const TFJS: Record<'tfjs-node-gpu' | 'tfjs-wasm' | 'tfjs-cpu', TfjsBackendName> = {
  'tfjs-node-gpu': 'tensorflow',
  'tfjs-wasm': 'wasm',
  'tfjs-cpu': 'cpu',
};
const TFJS_DEVICE: Record<TfjsBackendName, CoreInfo['device']> = { cpu: 'cpu', wasm: 'wasm', tensorflow: 'cuda' };

/**
 * Pick the backend for `prefer` and say why. 'auto' takes the fastest available one; 'cpu' the
 * fastest CPU one (native, then wasm, then plain tfjs); 'cuda', 'native', 'wasm' and 'tfjs-cpu'
 * insist and throw BackendUnavailableError with install instructions when they cannot run.
 *
 * The tfjs backends share one tfjs-core engine per process: trying a tfjs backend activates it, and
 * every tfjs core re-activates its own backend before it runs ops (see docs/backends.md).
 */
export async function selectBackend(prefer: BackendPreference = 'auto'): Promise<BackendReport> {
  const order = ORDER[prefer];
  if (!order) throw new BackendUnavailableError(String(prefer), `unknown backend "${String(prefer)}"; use one of ${Object.keys(ORDER).join(', ')}`);
  const skipped: BackendReport['skipped'] = [];
  const causes: unknown[] = [];
  for (const id of order) {
    const attempt = await tryCandidate(id);
    if (attempt.ok) {
      const summary = describe(attempt.report, prefer, skipped);
      return { ...attempt.report, skipped, summary };
    }
    skipped.push({ backend: id, reason: attempt.reason });
    causes.push(attempt.cause);
  }
  throw unavailable(prefer, skipped, causes);
}

async function tryCandidate(id: CandidateId): Promise<Attempt> {
  if (id === 'native-cpu' || id === 'native-cuda') {
    let probe: NativeProbe;
    try {
      probe = id === 'native-cpu' ? probeNativeCpu() : probeNativeCuda();
    } catch (cause) {
      return { ok: false, reason: `probe failed: ${(cause as Error).message}`, cause };
    }
    if (!probe.ok) return { ok: false, reason: probe.reason };
    return {
      ok: true,
      report: {
        backend: probe.backend,
        implementation: 'native',
        device: probe.backend === 'native-cuda' ? 'cuda' : 'cpu',
        simd: probe.simd !== 'scalar',
        threads: probe.threads,
        versions: { native: probe.version, simd: probe.simd },
        createCore: (config, init) => withLoraCheck(probe.backend, probe.createCore(config, init), init),
      },
    };
  }
  const name = TFJS[id];
  let info: TfjsRuntimeInfo;
  try {
    info = await initTfjsBackend(name);
  } catch (cause) {
    // The first sentence names the problem; the full install help goes into the thrown error only.
    const msg = (cause instanceof Error ? cause.message : String(cause)).split('. ')[0]!;
    const inner = cause instanceof Error && cause.cause instanceof Error ? ` (${cause.cause.message.split('\n')[0]})` : '';
    return { ok: false, reason: `${msg}${inner}`, cause };
  }
  const report: Chosen = {
    backend: id,
    implementation: 'tfjs',
    device: TFJS_DEVICE[name],
    versions: info.versions,
    createCore: (config: ModelConfig, init?: CoreInit) => withLoraCheck(id, createTfjsCore(config, { backend: name, ...init }), init),
  };
  if (info.simd !== undefined) report.simd = info.simd;
  if (info.threads !== undefined) report.threads = info.threads;
  return { ok: true, report };
}

/** A core that ignored `init.lora` would train every weight behind the caller's back: refuse it instead. */
async function withLoraCheck(backend: string, pending: Promise<TransformerCore>, init: CoreInit | undefined): Promise<TransformerCore> {
  const core = await pending;
  if (init?.lora && !core.lora) {
    core.dispose();
    throw new BackendUnavailableError(backend, `LoRA adapters are not supported by the ${backend} core; create the model without lora, or pick a backend that has them (docs/model.md)`);
  }
  return core;
}

function describe(r: Chosen, prefer: BackendPreference, skipped: BackendReport['skipped']): string {
  const traits = [r.simd === undefined ? '' : r.simd ? 'SIMD' : 'no SIMD', r.threads ? `${r.threads} thread${r.threads > 1 ? 's' : ''}` : '']
    .filter(Boolean)
    .join(', ');
  const why = skipped.length ? `; passed over ${skipped.map((s) => `${s.backend} (${withoutPaths(s.reason)})`).join(', ')}` : '';
  return `using ${r.backend}${traits ? ` (${traits})` : ''} for selectBackend('${prefer}')${why}`;
}

/**
 * The summary goes into logs and reports that people share, so it names files by their base name only
 * (`imported from runtime.ts`, not the machine's absolute path); `skipped` keeps the full reasons.
 */
export function withoutPaths(text: string): string {
  // Only absolute paths: a relative command such as `node native/cuda/build.mjs` must stay whole.
  return text.replace(/(?<![\w.@+-])(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}/g, (path) => path.split(/[\\/]/).at(-1)!);
}

function unavailable(prefer: BackendPreference, skipped: BackendReport['skipped'], causes: unknown[]): BackendUnavailableError {
  const reasons = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  const cause = causes.find((c) => c !== undefined);
  const opts = cause === undefined ? undefined : { cause };
  switch (prefer) {
    case 'cuda':
      return new BackendUnavailableError(
        'cuda',
        `no CUDA backend is available (${reasons}). ${tfjsNodeGpuHelp('is needed for tfjs on CUDA')}`,
        opts,
      );
    case 'native':
      return new BackendUnavailableError(
        'native-cpu',
        `the native CPU core is unavailable: ${reasons}. Install build tools (python3, make, a C++17 compiler such as g++) ` +
          "and run `npm rebuild socratic-distill`, or use selectBackend('wasm').",
        opts,
      );
    default:
      return new BackendUnavailableError(prefer, `backend "${prefer}" is unavailable: ${reasons}`, opts);
  }
}
