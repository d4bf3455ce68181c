// Prints 1 when a C++ compiler can build and link against OpenBLAS's cblas, else 0.
// Used by binding.gyp; SOCRATIC_DISTILL_NO_BLAS=1 forces the built-in sgemm.
const { execFileSync } = require('node:child_process');
const { mkdtempSync, writeFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');

function detect() {
  if (process.env.SOCRATIC_DISTILL_NO_BLAS === '1') return 0;
  const dir = mkdtempSync(join(tmpdir(), 'sd-blas-'));
  try {
    const src = join(dir, 't.cc');
    writeFileSync(src, '#include <cblas.h>\nint main(){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.f,&a,1,&b,1,0.f,&c,1);return c==1.f?0:1;}\n');
    execFileSync(process.env.CXX || 'c++', [src, '-o', join(dir, 't'), '-lopenblas'], { stdio: 'ignore' });
    return 1;
  } catch {
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.stdout.write(String(detect()));
