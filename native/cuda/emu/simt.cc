// CPU EMULATION ONLY: the fiber scheduler behind emu/include/simt.h (see there).
#include "simt.h"

#include <ucontext.h>

#include <stdexcept>
#include <vector>

dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace sdemu {
namespace {

constexpr size_t kStack = 64 * 1024;
struct Fiber {
  ucontext_t ctx;
  bool done;
};
ucontext_t g_main;
std::vector<Fiber> g_fibers;
std::vector<std::vector<char>> g_stacks;
std::vector<float> g_shfl;
std::vector<unsigned> g_warpCount, g_warpGen;
unsigned g_blockCount = 0, g_blockGen = 0;
std::vector<char> g_dynamic;
const std::function<void()>* g_body = nullptr;
int g_cur = 0;
bool g_progress = false;

void entry() {
  (*g_body)();
  g_fibers[g_cur].done = true;
  g_progress = true;
}

void yield() { swapcontext(&g_fibers[g_cur].ctx, &g_main); }

void barrier(unsigned& count, unsigned& gen, unsigned expected) {
  const unsigned mine = gen;
  g_progress = true;
  if (++count == expected) {
    count = 0;
    ++gen;
    return;
  }
  while (gen == mine) yield();
}

}  // namespace

void syncthreads() { barrier(g_blockCount, g_blockGen, blockDim.x * blockDim.y * blockDim.z); }

float shfl_xor(float v, int laneMask) {
  const int tid = g_cur, warp = tid / 32;
  g_shfl[tid] = v;
  barrier(g_warpCount[warp], g_warpGen[warp], 32);
  const float r = g_shfl[(tid & ~31) | ((tid & 31) ^ laneMask)];
  barrier(g_warpCount[warp], g_warpGen[warp], 32);  // every lane has read before the slots are reused
  return r;
}

void* dynamic_shared() { return g_dynamic.data(); }

void launch(dim3 grid, dim3 block, size_t shmem, const std::function<void()>& body) {
  const unsigned n = block.x * block.y * block.z;
  if (n % 32 != 0) throw std::runtime_error("SIMT emulation expects whole warps per block");
  gridDim = grid;
  blockDim = block;
  g_body = &body;
  if (g_stacks.size() < n) g_stacks.resize(n, std::vector<char>(kStack));
  g_fibers.assign(n, Fiber{});
  g_shfl.assign(n, 0.f);
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        blockIdx = dim3(bx, by, bz);
        g_dynamic.assign(shmem + 16, 0);
        g_warpCount.assign(n / 32, 0);
        g_warpGen.assign(n / 32, 0);
        g_blockCount = g_blockGen = 0;
        for (unsigned t = 0; t < n; t++) {
          Fiber& f = g_fibers[t];
          f.done = false;
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = g_stacks[t].data();
          f.ctx.uc_stack.ss_size = kStack;
          f.ctx.uc_link = &g_main;
          makecontext(&f.ctx, entry, 0);
        }
        for (unsigned live = n; live > 0;) {
          g_progress = false;
          live = 0;
          for (unsigned t = 0; t < n; t++) {
            if (g_fibers[t].done) continue;
            g_cur = static_cast<int>(t);
            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            swapcontext(&g_main, &g_fibers[t].ctx);
            if (!g_fibers[t].done) live++;
          }
          if (live > 0 && !g_progress) throw std::runtime_error("SIMT emulation: deadlock (a barrier some threads never reach)");
        }
      }
}

}  // namespace sdemu
