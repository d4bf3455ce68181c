import { loadNativeAddon } from '../src/backend/native/addon.js';
const a = loadNativeAddon(); if (!a.ok) throw new Error('x');
const g = a.addon; if (process.argv[5]) console.log(g.gemmSelect(process.argv[5]));
const N = Number(process.argv[2] ?? 2048), IC = Number(process.argv[3] ?? 576), OC = Number(process.argv[4] ?? 576), r = 16;
const buf = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
const x = buf(N * IC), W = buf(OC * IC), A = buf(r * IC), Bm = buf(OC * r), u = buf(N * r), out = buf(N * OC), dy = buf(N * OC), dx = buf(N * IC), dA = buf(r * IC), dB = buf(OC * r);
const cases: Array<[string, () => void, number]> = [
  ['base y = x W^T', () => g.gemm(false, true, N, OC, IC, 1, x, IC, W, IC, 0, out, OC), 2 * N * IC * OC],
  ['base dx = dy W', () => g.gemm(false, false, N, IC, OC, 1, dy, OC, W, IC, 0, dx, IC), 2 * N * IC * OC],
  ['base dW = dy^T x', () => g.gemm(true, false, OC, IC, N, 1, dy, OC, x, IC, 1, W, IC), 2 * N * IC * OC],
  ['u = x A^T', () => g.gemm(false, true, N, r, IC, 1, x, IC, A, IC, 0, u, r), 2 * N * IC * r],
  ['y += u B^T', () => g.gemm(false, true, N, OC, r, 1, u, r, Bm, r, 1, out, OC), 2 * N * OC * r],
  ['du = dy B', () => g.gemm(false, false, N, r, OC, 1, dy, OC, Bm, r, 0, u, r), 2 * N * OC * r],
  ['dx += du A', () => g.gemm(false, false, N, IC, r, 1, u, r, A, IC, 1, dx, IC), 2 * N * IC * r],
  ['dA += du^T x', () => g.gemm(true, false, r, IC, N, 1, u, r, x, IC, 1, dA, IC), 2 * N * IC * r],
  ['dB += dy^T u', () => g.gemm(true, false, OC, r, N, 1, dy, OC, u, r, 1, dB, r), 2 * N * OC * r],
];
for (const [name, f, flops] of cases) {
  f();
  let best = Infinity;
  for (let i = 0; i < 30; i++) { const t0 = performance.now(); f(); best = Math.min(best, (performance.now() - t0) / 1000); }
  console.log(name.padEnd(18), `min wall ${(best * 1e3).toFixed(2)} ms`, `GFLOP/s ${(flops / best / 1e9).toFixed(1)}`);
}
