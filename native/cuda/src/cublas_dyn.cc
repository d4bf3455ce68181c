#include "cublas_dyn.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

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
  // $SOCRATIC_CUBLAS first, then the loader's search path, then the toolkit's own lib directories.
  std::vector<std::string> names;
  if (const char* env = std::getenv("SOCRATIC_CUBLAS")) names.emplace_back(env);
  for (const char* v : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) names.emplace_back(v);
  std::vector<std::string> roots;
  if (const char* home = std::getenv("CUDA_HOME")) roots.emplace_back(home);
  roots.emplace_back("/usr/local/cuda");
  for (const std::string& r : roots)
    for (const char* sub : {"/lib64/libcublas.so.13", "/targets/x86_64-linux/lib/libcublas.so.13", "/lib64/libcublas.so.12"})
      names.push_back(r + sub);
  void* lib = nullptr;
  std::string first;
  for (const std::string& n : names) {
    lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      g_api.library = n;
      break;
    }
    const char* e = dlerror();
    if (first.empty()) first = e ? e : "unknown dlopen error";
  }
  if (!lib) {
    g_error = "cuBLAS not found (libcublas.so.13/.so.12 not on the library path or under CUDA_HOME; set SOCRATIC_CUBLAS): " + first;
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
