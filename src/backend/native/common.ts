import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NonFiniteLossError, ShapeError } from '../../errors.js';
import { ADAMW_DEFAULTS, type LogitsTensor, type OptimizerStep } from '../types.js';
import { clipCoefficient } from '../training.js';
import { CORE_ABI, type CoreAddon } from './rawCore.js';

// What the CPU (addon.ts) and CUDA (cudaAddon.ts) addons and the one NativeCore over them share: finding and
// loading a .node addon, serialising calls, handing back host logits, and the host side of one AdamW step.

/** Serialises calls into one native model: it owns one activation buffer, so calls must not overlap. */
export class CallQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Walks up from this module to the package root (works from src/ under vitest/tsx and from dist/). */
export function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'socratic-distill') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export type LoadResult<A> = { ok: true; addon: A; path: string } | { ok: false; reason: string };

/**
 * Requires the first existing candidate; never throws. `what` names the addon in the reason
 * ("native addon", "CUDA addon"); `notBuilt` is the whole reason when no candidate exists, and its build
 * command is also what a stale addon (one built for another core interface, see rawCore.ts) is told to run.
 */
export function requireFirstAddon<A extends CoreAddon>(candidates: string[], what: string, notBuilt: string, rebuild: string): LoadResult<A> {
  const path = candidates.find((p) => existsSync(p));
  if (!path) return { ok: false, reason: notBuilt };
  let addon: A;
  try {
    addon = createRequire(import.meta.url)(path) as A;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    return { ok: false, reason: `${what} at ${path} failed to load: ${msg}` };
  }
  // An addon from before the shared interface exports no abi: call that version 1.
  const abi = typeof addon.abi === 'number' ? addon.abi : 1;
  if (abi !== CORE_ABI) {
    return { ok: false, reason: `${what} at ${path} failed to load: it implements core interface ${abi}, this library needs ${CORE_ABI}; rebuild it (${rebuild})` };
  }
  return { ok: true, addon, path };
}

/** Logits already copied to the host: data() resolves to the array until dispose() drops it. */
export function hostLogits(shape: number[], logits: Float32Array | undefined): LogitsTensor {
  let data: Float32Array | undefined = logits;
  return {
    shape,
    data: async () => {
      if (!data) throw new ShapeError('logits were disposed');
      return data;
    },
    dispose: () => {
      data = undefined;
    },
  };
}

/** Positional arguments of RawCore.adamw: lr, beta1, beta2, eps, weightDecay, clipCoef, t. */
export type AdamwArgs = [lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, clipCoef: number, t: number];

/**
 * Host side of one optimizer step: refuse a non-finite gradient norm (gradients zeroed via `zeroGrads`), clip
 * coefficient, defaults filled in. `t` is the 1-based step about to be taken.
 */
export function adamwArgs(gradNorm: number, step: OptimizerStep, t: number, zeroGrads: () => void): AdamwArgs {
  if (!Number.isFinite(gradNorm)) {
    zeroGrads();
    throw new NonFiniteLossError(t, gradNorm, 'gradient norm');
  }
  const clipCoef = clipCoefficient(gradNorm, step.maxGradNorm ?? ADAMW_DEFAULTS.maxGradNorm);
  return [
    step.lr,
    step.beta1 ?? ADAMW_DEFAULTS.beta1,
    step.beta2 ?? ADAMW_DEFAULTS.beta2,
    step.eps ?? ADAMW_DEFAULTS.eps,
    step.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
    clipCoef,
    t,
  ];
}
