import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../src/backend/native/addon.js';
import { Rng } from '../src/util/rng.js';

// The native sgemm against a float64 reference on odd shapes, every transpose, padded leading
// dimensions, alpha/beta, for every kernel choice this CPU can run (OpenBLAS when linked, and the
// built-in AVX-512, AVX2 and scalar levels, forced through gemmSelect). Speed is measured in bench/.
const loaded = loadNativeAddon();
const skip = !loaded.ok;
if (skip) console.warn(`[native-gemm] skipped: ${loaded.ok ? '' : loaded.reason}`);

type Shape = [M: number, N: number, K: number];
const SHAPES: Shape[] = [
  [1, 1, 1], [1, 7, 63], [1, 257, 65], [1, 1023, 7], [2, 65, 257], [3, 63, 1], [4, 33, 1023],
  [5, 1, 7], [7, 7, 7], [63, 65, 1], [65, 63, 257], [257, 65, 63], [13, 1023, 65], // blocked, edges
  [9, 17, 1100], [16, 257, 129], // few-row path up to 16 rows
  [17, 65, 33], [1023, 17, 129], [1200, 9, 5], [33, 31, 1023], // MC and KC blocking, K slices
  [17, 17, 1100], [257, 257, 257], // long-K split, threaded slices
];

function ref(ta: boolean, tb: boolean, [M, N, K]: Shape, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C0: Float32Array, ldc: number): { out: Float64Array; mag: Float64Array } {
  const out = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < K; k++) {
        const a = ta ? A[k * lda + i]! : A[i * lda + k]!;
        const b = tb ? B[j * ldb + k]! : B[k * ldb + j]!;
        s += a * b;
        m += Math.abs(a * b);
      }
      const c = C0[i * ldc + j]!;
      out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * c);
      mag[i * N + j] = Math.abs(alpha) * m + Math.abs(beta * (Number.isNaN(c) ? 0 : c));
    }
  return { out, mag };
}

function check(ta: boolean, tb: boolean, shape: Shape, alpha: number, beta: number, seed: number): void {
  if (!loaded.ok) return;
  const [M, N, K] = shape;
  const rng = new Rng(seed);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
  // Padded leading dimensions: the core multiplies sub-matrices (per-head slices of qkv).
  const lda = (ta ? M : K) + 3;
  const ldb = (tb ? K : N) + 5;
  const ldc = N + 2;
  const A = rand((ta ? K : M) * lda);
  const B = rand((tb ? N : K) * ldb);
  const C = rand(M * ldc);
  if (beta === 0) C.fill(Number.NaN); // beta 0 must overwrite, not multiply
  const pad = Array.from({ length: M }, (_, i) => [C[i * ldc + N], C[i * ldc + N + 1]]);
  const want = ref(ta, tb, shape, alpha, A, lda, B, ldb, beta, C, ldc);
  loaded.addon.gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  let worst = 0;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      const err = Math.abs(C[i * ldc + j]! - want.out[i * N + j]!) / (want.mag[i * N + j]! + 1e-30);
      worst = Math.max(worst, Number.isNaN(err) ? Number.POSITIVE_INFINITY : err);
    }
  expect(worst, `${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${shape.join('x')} alpha ${alpha} beta ${beta}`).toBeLessThan(2e-6);
  // The padding columns of C (beyond N) are not touched.
  expect(pad.every(([x, y], i) => Object.is(C[i * ldc + N], x) && Object.is(C[i * ldc + N + 1], y))).toBe(true);
}

const CHOICES = ['blas', 'avx512', 'avx2', 'scalar'];

describe.skipIf(skip)('native sgemm matches a float64 reference', () => {
  const seen = new Set<string>();
  for (const choice of CHOICES) {
    it(`kernels: ${choice}`, () => {
      if (!loaded.ok) return;
      const using = loaded.addon.gemmSelect(choice);
      try {
        // 'blas' without OpenBLAS linked, or a level above this CPU's, falls back to one already covered.
        if (seen.has(using)) return;
        seen.add(using);
        let seed = 1;
        for (const shape of SHAPES)
          for (const ta of [false, true])
            for (const tb of [false, true]) {
              const [alpha, beta] = [[1, 0], [0.5, 1], [-1.25, 0.5]][seed % 3]!;
              check(ta, tb, shape, alpha!, beta!, seed++);
            }
      } finally {
        loaded.addon.gemmSelect('auto');
      }
    });
  }

  it('rejects an unknown kernel name', () => {
    if (!loaded.ok) return;
    expect(() => loaded.addon.gemmSelect('avx1024')).toThrow(/unknown gemm choice/);
  });
});
