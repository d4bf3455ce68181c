// N-API surface of the native GPT-2 core. Heavy calls run on the libuv pool
// (AsyncWorker) and return promises; every typed array they read is pinned by a
// reference until the worker finishes. Buffers are always copied across the
// boundary, so no JS object ever aliases native memory that dispose() frees.
#include <napi.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <mutex>

#include "gpt2.h"
#include "kernels.h"

namespace {

#ifndef SD_VERSION
#define SD_VERSION "0.0.0"
#endif

struct Holder {
  std::mutex mu;
  std::unique_ptr<sd::Model> model;
};

class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> done)
      : Napi::AsyncWorker(env, "socratic-distill-native"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {}
  void Pin(const Napi::Value& v) {
    if (v.IsObject()) pins_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(done_ ? done_(Env()) : Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> done_;
  std::vector<Napi::ObjectReference> pins_;
};

// Reads a job's inputs from the JS arguments. A bad argument throws before the job is queued, and an unqueued
// AsyncWorker is not freed by N-API, so it is deleted here; otherwise the arrays the worker reads or writes are pinned.
template <typename ReadInputs>
Napi::Value QueueJob(Job* job, ReadInputs read, std::initializer_list<Napi::Value> pinned) {
  try {
    read();
  } catch (...) {
    delete job;
    throw;
  }
  for (const auto& v : pinned) job->Pin(v);
  job->Queue();
  return job->Promise();
}

template <typename T>
T* DataOrNull(const Napi::Value& v, size_t expect, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a typed array");
  auto ta = v.As<Napi::TypedArray>();
  size_t elem = ta.ElementSize();
  if (elem != sizeof(T)) throw Napi::TypeError::New(v.Env(), std::string(what) + " has the wrong element type");
  if (expect && ta.ElementLength() != expect)
    throw Napi::RangeError::New(v.Env(), std::string(what) + " has length " + std::to_string(ta.ElementLength()) +
                                             ", expected " + std::to_string(expect));
  return reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

class CacheWrap : public Napi::ObjectWrap<CacheWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeKVCache",
                       {InstanceMethod("dispose", &CacheWrap::Dispose), InstanceMethod("length", &CacheWrap::Length),
                        InstanceMethod("bytes", &CacheWrap::Bytes)});
  }
  CacheWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CacheWrap>(info) {
    // (L, B, maxLen, C)
    int L = info[0].As<Napi::Number>().Int32Value(), B = info[1].As<Napi::Number>().Int32Value();
    int maxLen = info[2].As<Napi::Number>().Int32Value(), C = info[3].As<Napi::Number>().Int32Value();
    cache = std::make_shared<sd::KVCache>();
    cache->B = B;
    cache->maxLen = maxLen;
    cache->k.assign((size_t)L * B * maxLen * C, 0.0f);
    cache->v.assign((size_t)L * B * maxLen * C, 0.0f);
    cache->mask.assign((size_t)B * maxLen, 0);
  }
  std::shared_ptr<sd::KVCache> cache;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    // Workers hold their own shared_ptr, so memory goes when the last user is done.
    cache.reset();
    return info.Env().Undefined();
  }
  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), cache ? cache->len : 0);
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    size_t n = cache ? (cache->k.capacity() + cache->v.capacity()) * 4 + cache->mask.capacity() : 0;
    return Napi::Number::New(info.Env(), (double)n);
  }
};

Napi::FunctionReference* g_cache_ctor = nullptr;

class CoreWrap : public Napi::ObjectWrap<CoreWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NativeCore",
                       {InstanceMethod("paramSizes", &CoreWrap::ParamSizes),
                        InstanceMethod("setBuffer", &CoreWrap::SetBuffer),
                        InstanceMethod("getBuffer", &CoreWrap::GetBuffer),
                        InstanceMethod("zeroGrads", &CoreWrap::ZeroGrads),
                        InstanceMethod("forward", &CoreWrap::Forward), InstanceMethod("loss", &CoreWrap::Loss),
                        InstanceMethod("gradSqNorm", &CoreWrap::GradSqNorm),
                        InstanceMethod("adamw", &CoreWrap::AdamW), InstanceMethod("newCache", &CoreWrap::NewCache),
                        InstanceMethod("decode", &CoreWrap::Decode), InstanceMethod("bytes", &CoreWrap::Bytes),
                        InstanceMethod("dispose", &CoreWrap::Dispose)});
  }
  CoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CoreWrap>(info) {
    auto o = info[0].As<Napi::Object>();
    auto gi = [&](const char* k) { return o.Get(k).As<Napi::Number>().Int32Value(); };
    sd::Config c{gi("V"), gi("maxT"), gi("C"), gi("L"), gi("NH"), gi("F"), o.Get("eps").As<Napi::Number>().FloatValue()};
    holder_ = std::make_shared<Holder>();
    try {
      holder_->model = std::make_unique<sd::Model>(c);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("native core: ") + e.what());
    }
  }

 private:
  std::shared_ptr<Holder> holder_;

  sd::Model& M(Napi::Env env) {
    if (!holder_->model) throw Napi::Error::New(env, "native core was disposed");
    return *holder_->model;
  }
  static sd::Model& Locked(Holder& h) {
    if (!h.model) throw std::runtime_error("native core was disposed");
    return *h.model;
  }
  float* Which(sd::Model& m, int w) { return w == 0 ? m.params : w == 1 ? m.grads : w == 2 ? m.m : m.v; }

  Napi::Value ParamSizes(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    auto arr = Napi::Array::New(info.Env(), m.sizes.size());
    for (size_t i = 0; i < m.sizes.size(); i++) arr.Set(i, Napi::Number::New(info.Env(), (double)m.sizes[i]));
    return arr;
  }
  Napi::Value SetBuffer(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    float* src = DataOrNull<float>(info[1], m.nparams, "buffer");
    std::lock_guard<std::mutex> lk(holder_->mu);
    std::memcpy(Which(m, info[0].As<Napi::Number>().Int32Value()), src, m.nparams * sizeof(float));
    return info.Env().Undefined();
  }
  Napi::Value GetBuffer(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    float* dst = DataOrNull<float>(info[1], m.nparams, "buffer");
    std::lock_guard<std::mutex> lk(holder_->mu);
    std::memcpy(dst, Which(m, info[0].As<Napi::Number>().Int32Value()), m.nparams * sizeof(float));
    return info.Env().Undefined();
  }
  Napi::Value ZeroGrads(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    std::lock_guard<std::mutex> lk(holder_->mu);
    std::memset(m.grads, 0, m.nparams * sizeof(float));
    return info.Env().Undefined();
  }
  Napi::Value GradSqNorm(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    std::lock_guard<std::mutex> lk(holder_->mu);
    return Napi::Number::New(info.Env(), m.grad_sq_norm());
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), holder_->model ? (double)holder_->model->bytes() : 0.0);
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lk(holder_->mu);
    holder_->model.reset();
    return info.Env().Undefined();
  }

  // Reads (ids, mask, pos, B, T) starting at info[i].
  sd::Batch ReadBatch(const Napi::CallbackInfo& info, int i, Job* job) {
    int B = info[i + 3].As<Napi::Number>().Int32Value(), T = info[i + 4].As<Napi::Number>().Int32Value();
    if (B <= 0 || T <= 0) throw Napi::RangeError::New(info.Env(), "batch must have B > 0 and T > 0");
    size_t n = (size_t)B * T;
    sd::Batch b{B, T, DataOrNull<int32_t>(info[i], n, "inputIds"), DataOrNull<uint8_t>(info[i + 1], n, "attentionMask"),
                DataOrNull<int32_t>(info[i + 2], n, "positionIds"), nullptr};
    if (!b.ids) throw Napi::TypeError::New(info.Env(), "inputIds is required");
    for (int k = 0; k < 3; k++) job->Pin(info[i + k]);
    return b;
  }

  // forward(ids, mask, pos, B, T, logitsOut|null, wantHidden) -> Promise<Float32Array[] | undefined>
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    auto h = holder_;
    auto b = std::make_shared<sd::Batch>();
    auto hidden = std::make_shared<std::vector<std::vector<float>>>();
    auto logits = std::make_shared<float*>(nullptr);
    bool want = info[6].ToBoolean();
    auto job = new Job(
        info.Env(),
        [h, b, hidden, want, logits]() {
          std::lock_guard<std::mutex> lk(h->mu);
          sd::Model& mm = Locked(*h);
          mm.forward(*b);
          if (*logits) mm.logits_all(*logits);
          if (want)
            for (int i = 0; i <= mm.cfg.L; i++) {
              hidden->emplace_back((size_t)b->B * b->T * mm.cfg.C);
              mm.hidden_state(i, hidden->back().data());
            }
        },
        [hidden, want](Napi::Env env) -> Napi::Value {
          if (!want) return env.Undefined();
          auto arr = Napi::Array::New(env, hidden->size());
          for (size_t i = 0; i < hidden->size(); i++) {
            auto ta = Napi::Float32Array::New(env, (*hidden)[i].size());
            std::memcpy(ta.Data(), (*hidden)[i].data(), (*hidden)[i].size() * sizeof(float));
            arr.Set(i, ta);
          }
          return arr;
        });
    return QueueJob(
        job,
        [&] {
          *b = ReadBatch(info, 0, job);
          *logits = DataOrNull<float>(info[5], (size_t)b->B * b->T * m.cfg.V, "logits");
        },
        {info[5]});
  }

  // loss(ids, mask, pos, B, T, labels, backward, scale) -> Promise<{loss, tokens}>
  Napi::Value Loss(const Napi::CallbackInfo& info) {
    M(info.Env());
    auto h = holder_;
    auto b = std::make_shared<sd::Batch>();
    auto res = std::make_shared<sd::LossOut>();
    bool backward = info[6].ToBoolean();
    float scale = info[7].As<Napi::Number>().FloatValue();
    auto job = new Job(
        info.Env(),
        [h, b, res, backward, scale]() {
          std::lock_guard<std::mutex> lk(h->mu);
          sd::Model& mm = Locked(*h);
          mm.forward(*b);
          *res = mm.loss_and_backward(*b, backward, scale);
        },
        [res](Napi::Env env) -> Napi::Value {
          auto o = Napi::Object::New(env);
          o.Set("loss", res->loss);
          o.Set("tokens", res->tokens);
          return o;
        });
    return QueueJob(
        job,
        [&] {
          *b = ReadBatch(info, 0, job);
          b->labels = DataOrNull<int32_t>(info[5], (size_t)b->B * b->T, "labels");
          if (!b->labels) throw Napi::TypeError::New(info.Env(), "labels are required");
        },
        {info[5]});
  }

  // adamw(lr, b1, b2, eps, wd, clip, t) -> Promise<void>
  Napi::Value AdamW(const Napi::CallbackInfo& info) {
    M(info.Env());
    auto h = holder_;
    float a[6];
    for (int i = 0; i < 6; i++) a[i] = info[i].As<Napi::Number>().FloatValue();
    int t = info[6].As<Napi::Number>().Int32Value();
    auto job = new Job(
        info.Env(),
        [h, a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], t]() {
          std::lock_guard<std::mutex> lk(h->mu);
          sd::Model& mm = Locked(*h);
          mm.adamw(a0, a1, a2, a3, a4, a5, t);
          std::memset(mm.grads, 0, mm.nparams * sizeof(float));
        },
        nullptr);
    job->Queue();
    return job->Promise();
  }

  // newCache(B, maxLen) -> NativeKVCache
  Napi::Value NewCache(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    return g_cache_ctor->New({Napi::Number::New(info.Env(), m.cfg.L), info[0], info[1], Napi::Number::New(info.Env(), m.cfg.C)});
  }

  // decode(cache, ids, mask, pos, B, T, lastLogitsOut[B*V]) -> Promise<void>
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    auto* cw = CacheWrap::Unwrap(info[0].As<Napi::Object>());
    if (!cw->cache) throw Napi::Error::New(info.Env(), "decode session was disposed");
    auto cache = cw->cache;
    auto h = holder_;
    auto b = std::make_shared<sd::Batch>();
    auto out = std::make_shared<float*>(nullptr);
    auto job = new Job(
        info.Env(),
        [h, b, cache, out]() {
          std::lock_guard<std::mutex> lk(h->mu);
          sd::Model& mm = Locked(*h);
          mm.forward(*b, cache.get());
          mm.logits_last(*out);
        },
        nullptr);
    return QueueJob(
        job,
        [&] {
          *b = ReadBatch(info, 1, job);
          if (b->B != cache->B) throw Napi::RangeError::New(info.Env(), "decode batch size differs from the session's");
          *out = DataOrNull<float>(info[6], (size_t)b->B * m.cfg.V, "lastLogits");
          if (!*out) throw Napi::TypeError::New(info.Env(), "lastLogits output is required");
        },
        {info[0], info[6]});
  }
};

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("simd", sd::simd_level());
  o.Set("threads", sd::num_threads());
  o.Set("blas", sd::blas_info());
  o.Set("version", SD_VERSION);
  return o;
}
// benchGemm(n, reps) -> seconds per n^3 sgemm call, one entry per rep (for bench/).
Napi::Value BenchGemm(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value(), reps = info[1].As<Napi::Number>().Int32Value();
  std::vector<float> a((size_t)n * n), b((size_t)n * n), c((size_t)n * n);
  for (size_t i = 0; i < a.size(); i++) {
    a[i] = (float)((i * 7) % 13) / 13.0f;
    b[i] = (float)((i * 5) % 11) / 11.0f;
  }
  auto arr = Napi::Array::New(info.Env(), reps);
  for (int r = 0; r < reps; r++) {
    auto t0 = std::chrono::steady_clock::now();
    sd::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    arr.Set(r, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return arr;
}
// gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): one sgemm call on typed arrays, for the
// GEMM correctness tests (bounds are the caller's business; the tests size the arrays exactly).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  auto i32 = [&](int k) { return info[k].As<Napi::Number>().Int32Value(); };
  auto f32 = [&](int k) { return info[k].As<Napi::Float32Array>().Data(); };
  sd::sgemm(info[0].ToBoolean(), info[1].ToBoolean(), i32(2), i32(3), i32(4), info[5].As<Napi::Number>().FloatValue(),
            f32(6), i32(7), f32(8), i32(9), info[10].As<Napi::Number>().FloatValue(), f32(11), i32(12));
  return info.Env().Undefined();
}
// gemmSelect(name) -> the kernels now in use (same string as info().blas); throws on an unknown name.
Napi::Value GemmSelect(const Napi::CallbackInfo& info) {
  if (!sd::gemm_select(info[0].As<Napi::String>().Utf8Value().c_str()))
    throw Napi::RangeError::New(info.Env(), "unknown gemm choice");
  return Napi::String::New(info.Env(), sd::blas_info());
}
Napi::Value ProfileEnable(const Napi::CallbackInfo& info) {
  sd::profile_enable(info[0].ToBoolean());
  return info.Env().Undefined();
}
Napi::Value ProfileReset(const Napi::CallbackInfo& info) {
  sd::profile_reset();
  return info.Env().Undefined();
}
Napi::Value ProfileGet(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  for (auto& kv : sd::profile_get()) o.Set(kv.first, kv.second);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeCore", CoreWrap::Init(env));
  auto cacheCtor = CacheWrap::Init(env);
  g_cache_ctor = new Napi::FunctionReference(Napi::Persistent(cacheCtor));
  env.SetInstanceData<Napi::FunctionReference>(g_cache_ctor);
  exports.Set("NativeKVCache", cacheCtor);
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("benchGemm", Napi::Function::New(env, BenchGemm));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("gemmSelect", Napi::Function::New(env, GemmSelect));
  exports.Set("profileEnable", Napi::Function::New(env, ProfileEnable));
  exports.Set("profileReset", Napi::Function::New(env, ProfileReset));
  exports.Set("profileGet", Napi::Function::New(env, ProfileGet));
  return exports;
}

}  // namespace

NODE_API_MODULE(socratic_native, Init)
