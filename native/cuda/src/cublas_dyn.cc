#include "cublas_dyn.h"

#include <dlfcn.h>
#include <mutex>

namespace sdcuda {

namespace {
CublasApi g_api;
std::string g_error;
bool g_loaded = false;
std::once_flag g_once;

template <typename F>
bool bind(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  return fn != nullptr;
}

void load_once() {
  const char* names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  void* lib = nullptr;
  std::string last;
  for (const char* n : names) {
    lib = dlopen(n, RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      g_api.library = n;
      break;
    }
    const char* e = dlerror();
    last = e ? e : "unknown dlopen error";
  }
  if (!lib) {
    g_error = "cuBLAS not found (tried libcublas.so.13, .so.12, .so): " + last;
    return;
  }
  bool ok = bind(lib, "cublasCreate_v2", g_api.create) && bind(lib, "cublasDestroy_v2", g_api.destroy) &&
            bind(lib, "cublasSetStream_v2", g_api.setStream) && bind(lib, "cublasGetVersion_v2", g_api.getVersion) &&
            bind(lib, "cublasGemmEx", g_api.gemmEx) && bind(lib, "cublasGemmStridedBatchedEx", g_api.gemmStridedBatchedEx);
  if (!ok) {
    g_error = g_api.library + " lacks a required symbol (cublasCreate_v2/GemmEx/GemmStridedBatchedEx)";
    return;
  }
  bind(lib, "cublasSetWorkspace_v2", g_api.setWorkspace);  // optional
  g_loaded = true;
}
}  // namespace

const CublasApi* load_cublas(std::string& error) {
  std::call_once(g_once, load_once);
  if (!g_loaded) {
    error = g_error;
    return nullptr;
  }
  return &g_api;
}

}  // namespace sdcuda
