// N-API surface of the native CPU core (GPT-2 and the Llama family, core.h): the shared core interface of src/backend/native/rawCore.ts (the CUDA
// addon implements the same one) plus CPU extras (info, GEMM and profiling hooks). Heavy calls run on the libuv pool
// (AsyncWorker) and return promises; every typed array they read is pinned by a reference until the worker
// finishes. Buffers are always copied across the boundary, so no JS object ever aliases native memory that
// dispose() frees.
#include <napi.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>

#include "core.h"
#include "kernels.h"

namespace {

#ifndef SD_VERSION
#define SD_VERSION "0.0.0"
#endif

struct Holder {
  std::mutex mu;
  std::unique_ptr<sd::Core> model;
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

// The shared core interface (src/backend/native/rawCore.ts), version 4; the CUDA addon implements the same one
// (and refuses RawCoreConfig.lora: it has no LoRA kernels yet).
constexpr int kCoreAbi = 4;

double NumberAt(const Napi::CallbackInfo& info, int i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// The RawCoreConfig object: the model shape and the layout table (`tensors`, nativeLayoutTable in src/arch/layout.ts).
// Throws a TypeError naming the field that is missing or of the wrong type.
sd::ModelDims ReadDims(const Napi::Object& o) {
  Napi::Env env = o.Env();
  auto num = [&](const char* k) {
    Napi::Value v = o.Get(k);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("native core config: ") + k + " must be a number");
    return v.As<Napi::Number>();
  };
  auto flag = [&](const char* k) {
    Napi::Value v = o.Get(k);
    if (!v.IsBoolean()) throw Napi::TypeError::New(env, std::string("native core config: ") + k + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  };
  sd::ModelDims d;
  Napi::Value arch = o.Get("arch");
  const std::string a = arch.IsString() ? arch.As<Napi::String>().Utf8Value() : "";
  if (a != "gpt2" && a != "llama") throw Napi::TypeError::New(env, "native core config: arch must be 'gpt2' or 'llama'");
  d.arch = a == "gpt2" ? sd::layout::Arch::GPT2 : sd::layout::Arch::Llama;
  d.V = num("vocab").Int32Value();
  d.maxT = num("maxT").Int32Value();
  d.C = num("C").Int32Value();
  d.L = num("L").Int32Value();
  d.NH = num("NH").Int32Value();
  d.NKV = num("NKV").Int32Value();
  d.HD = num("HD").Int32Value();
  d.F = num("F").Int32Value();
  d.eps = num("eps").FloatValue();
  d.ropeTheta = num("ropeTheta").FloatValue();
  d.qkNorm = flag("qkNorm");
  d.qkvBias = flag("qkvBias");
  d.oBias = flag("oBias");
  d.tied = flag("tied");
  return d;
}

// A layout table (`tensors` of the config or of its `lora`); `what` names it in errors.
std::vector<sd::TensorRow> ReadTable(const Napi::Object& o, const std::string& what = "native core config: tensors") {
  Napi::Env env = o.Env();
  Napi::Value t = o.Get("tensors");
  if (!t.IsArray()) throw Napi::TypeError::New(env, what + " must be the layout table (an array of rows)");
  auto arr = t.As<Napi::Array>();
  std::vector<sd::TensorRow> rows;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value rv = arr.Get(i);
    const std::string at = what + "[" + std::to_string(i) + "]";
    if (!rv.IsObject()) throw Napi::TypeError::New(env, at + " must be a {role, layer, numel, decay} object");
    auto r = rv.As<Napi::Object>();
    Napi::Value role = r.Get("role"), layer = r.Get("layer"), numel = r.Get("numel"), decay = r.Get("decay");
    if (!role.IsString() || !layer.IsNumber() || !numel.IsNumber() || !decay.IsBoolean())
      throw Napi::TypeError::New(env, at + " must be a {role: string, layer: number, numel: number, decay: boolean} object");
    const double n = numel.As<Napi::Number>().DoubleValue();
    if (!(n >= 0) || n != (double)(size_t)n)
      throw Napi::TypeError::New(env, at + " (" + role.As<Napi::String>().Utf8Value() + ") numel must be a non-negative integer");
    rows.push_back({role.As<Napi::String>().Utf8Value(), layer.As<Napi::Number>().Int32Value(), (size_t)n,
                    decay.As<Napi::Boolean>().Value()});
  }
  return rows;
}

// RawCoreConfig.lora: null (or absent) for a plain core, else {r, alpha, tensors: the adapter table}.
std::unique_ptr<sd::LoraConfig> ReadLora(const Napi::Object& o) {
  Napi::Env env = o.Env();
  Napi::Value l = o.Get("lora");
  if (l.IsNull() || l.IsUndefined()) return nullptr;
  if (!l.IsObject()) throw Napi::TypeError::New(env, "native core config: lora must be null or {r, alpha, tensors}");
  auto lo = l.As<Napi::Object>();
  if (!lo.Get("r").IsNumber() || !lo.Get("alpha").IsNumber())
    throw Napi::TypeError::New(env, "native core config: lora.r and lora.alpha must be numbers");
  const double r = lo.Get("r").As<Napi::Number>().DoubleValue();
  if (!(r >= 1 && r <= 1 << 20) || r != (double)(int)r)
    throw Napi::TypeError::New(env, "native core config: lora.r must be a positive integer");
  auto out = std::make_unique<sd::LoraConfig>();
  out->r = (int)r;
  out->alpha = lo.Get("alpha").As<Napi::Number>().DoubleValue();
  out->tensors = ReadTable(lo, "native core config: lora.tensors");
  return out;
}

class CoreWrap : public Napi::ObjectWrap<CoreWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "GptCore",
                       {InstanceMethod("numParams", &CoreWrap::NumParams),
                        InstanceMethod("readBuffers", &CoreWrap::ReadBuffers),
                        InstanceMethod("writeBuffers", &CoreWrap::WriteBuffers),
                        InstanceMethod("zeroGrads", &CoreWrap::ZeroGrads),
                        InstanceMethod("gradNorm", &CoreWrap::GradNorm),
                        InstanceMethod("forward", &CoreWrap::Forward), InstanceMethod("loss", &CoreWrap::Loss),
                        InstanceMethod("adamw", &CoreWrap::AdamW),
                        InstanceMethod("decodeStart", &CoreWrap::DecodeStart),
                        InstanceMethod("decodeStep", &CoreWrap::DecodeStep),
                        InstanceMethod("decodeFree", &CoreWrap::DecodeFree), InstanceMethod("bytes", &CoreWrap::Bytes),
                        InstanceMethod("dispose", &CoreWrap::Dispose)});
  }
  // new GptCore(RawCoreConfig, precision, shareBaseOf?): the CPU core computes in fp32 (precision 0) only. With
  // shareBaseOf (feature 'loraShare'), a live LoRA GptCore of the same model, the new LoRA core holds that core's
  // frozen base buffer too (sd::SharedBase), instead of a copy: the buffer lives until both are disposed or collected.
  CoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CoreWrap>(info) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "native core: the first argument must be the core config");
    auto o = info[0].As<Napi::Object>();
    const sd::ModelDims dims = ReadDims(o);
    const std::vector<sd::TensorRow> table = ReadTable(o);
    const std::unique_ptr<sd::LoraConfig> lora = ReadLora(o);
    const int precision = info[1].IsUndefined() ? 0 : info[1].As<Napi::Number>().Int32Value();
    if (precision != 0)
      throw Napi::RangeError::New(info.Env(), "native core: precision " + std::to_string(precision) + " is not supported (the CPU core computes in fp32 only)");
    const sd::Core* shareFrom = nullptr;
    if (!info[2].IsUndefined() && !info[2].IsNull()) {
      auto* ctor = info.Env().GetInstanceData<Napi::FunctionReference>();
      if (!info[2].IsObject() || !info[2].As<Napi::Object>().InstanceOf(ctor->Value()))
        throw Napi::TypeError::New(info.Env(), "native core: shareBaseOf must be a GptCore of this addon");
      CoreWrap* other = CoreWrap::Unwrap(info[2].As<Napi::Object>());
      if (!other->holder_->model) throw Napi::Error::New(info.Env(), "native core: the core to share a base with was disposed");
      shareFrom = other->holder_->model.get();
    }
    holder_ = std::make_shared<Holder>();
    try {
      holder_->model = sd::make_core(dims, table, lora.get(), shareFrom);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("native core: ") + e.what());
    }
  }

 private:
  std::shared_ptr<Holder> holder_;
  // Open decode sessions by id. Only the JS thread touches the map; a running job holds its own shared_ptr,
  // so decodeFree while a step runs frees the cache when that step is done.
  std::map<int, std::shared_ptr<sd::KVCache>> caches_;
  int nextCacheId_ = 1;

  sd::Core& M(Napi::Env env) {
    if (!holder_->model) throw Napi::Error::New(env, "native core was disposed");
    return *holder_->model;
  }
  static sd::Core& Locked(Holder& h) {
    if (!h.model) throw std::runtime_error("native core was disposed");
    return *h.model;
  }

  struct Span {
    float* js;
    float* store;
    size_t n;
    bool base;  // the `base` buffer
  };
  // The named buffers of {params, grads, m, v, base} present in `o`, with their model storage: params/grads/m/v
  // are the trainable buffers (numParams floats), base the base weights (the same buffer as params on a plain
  // core). A whole buffer, or with an offset (writes only) a piece of it at that float offset.
  std::vector<Span> Named(const Napi::CallbackInfo& info, sd::Core& m, bool write) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "buffers must be an object of named Float32Arrays");
    auto o = info[0].As<Napi::Object>();
    // Same rule as the CUDA core: gradients come only from loss(backward) and zeroGrads.
    if (write && !o.Get("grads").IsUndefined()) throw Napi::TypeError::New(info.Env(), "native core: gradients cannot be written");
    const bool offset = write && !info[1].IsUndefined();
    const double at = offset ? NumberAt(info, 1, "offset") : 0.0;
    if (!(at >= 0) || at != (double)(size_t)at) throw Napi::RangeError::New(info.Env(), "native core: offset must be a non-negative integer");
    std::vector<Span> out;
    const struct {
      const char* name;
      float* store;
      size_t n;
    } names[] = {{"params", m.params, m.nparams}, {"grads", m.grads, m.nparams}, {"m", m.m, m.nparams},
                 {"v", m.v, m.nparams},           {"base", m.base, m.nbase}};
    for (const auto& b : names) {
      float* js = DataOrNull<float>(o.Get(b.name), offset ? 0 : b.n, b.name);
      if (!js) continue;
      const size_t len = o.Get(b.name).As<Napi::TypedArray>().ElementLength();
      if ((size_t)at + len > b.n)
        throw Napi::RangeError::New(info.Env(), std::string("native core: ") + b.name + " of " + std::to_string(len) + " floats at offset " +
                                                    std::to_string((size_t)at) + " runs past its " + std::to_string(b.n) + " floats");
      out.push_back({js, b.store + (size_t)at, len, std::strcmp(b.name, "base") == 0});
    }
    return out;
  }

  Napi::Value NumParams(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), holder_->model ? (double)holder_->model->nparams : 0.0);
  }
  // readBuffers({params?, grads?, m?, v?, base?}): copies each named model buffer into the given array.
  Napi::Value ReadBuffers(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    auto named = Named(info, m, false);
    std::lock_guard<std::mutex> lk(holder_->mu);
    for (auto& s : named) std::memcpy(s.js, s.store, s.n * sizeof(float));
    return info.Env().Undefined();
  }
  // writeBuffers({params?, m?, v?, base?}, offset?): copies each given array into the named model buffer (never the
  // gradients), whole, or at a float offset.
  Napi::Value WriteBuffers(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    auto named = Named(info, m, true);
    // Another core reads a shared base (maybe on the pool right now): no writes while it is shared.
    for (auto& s : named)
      if (s.base && m.base_users() > 1)
        throw Napi::Error::New(info.Env(), "native core: the base is shared with another core (shareBaseOf), so it is read-only");
    std::lock_guard<std::mutex> lk(holder_->mu);
    for (auto& s : named) std::memcpy(s.store, s.js, s.n * sizeof(float));
    return info.Env().Undefined();
  }
  Napi::Value ZeroGrads(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    std::lock_guard<std::mutex> lk(holder_->mu);
    std::memset(m.grads, 0, m.nparams * sizeof(float));
    return info.Env().Undefined();
  }
  Napi::Value GradNorm(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    std::lock_guard<std::mutex> lk(holder_->mu);
    return Napi::Number::New(info.Env(), std::sqrt(m.grad_sq_norm()));
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    if (!holder_->model) return Napi::Number::New(info.Env(), 0.0);
    size_t n = holder_->model->bytes();
    for (const auto& kv : caches_) n += kv.second->bytes();
    return Napi::Number::New(info.Env(), (double)n);
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    caches_.clear();
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
          sd::Core& mm = Locked(*h);
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
          sd::Core& mm = Locked(*h);
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

  // adamw(lr, b1, b2, eps, wd, clip, t) -> Promise<void>; clears the gradients after the update.
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
          sd::Core& mm = Locked(*h);
          mm.adamw(a0, a1, a2, a3, a4, a5, t);
          std::memset(mm.grads, 0, mm.nparams * sizeof(float));
        },
        nullptr);
    job->Queue();
    return job->Promise();
  }

  // Runs the prompt or one step through `cache` and writes the last position's logits [B*V] into info[outArg].
  Napi::Value QueueDecode(const Napi::CallbackInfo& info, std::shared_ptr<sd::KVCache> cache, std::function<sd::Batch(Job*)> read,
                          int outArg, std::function<Napi::Value(Napi::Env)> done) {
    auto& m = M(info.Env());
    auto h = holder_;
    auto b = std::make_shared<sd::Batch>();
    auto out = std::make_shared<float*>(nullptr);
    auto job = new Job(
        info.Env(),
        [h, b, cache, out]() {
          std::lock_guard<std::mutex> lk(h->mu);
          sd::Core& mm = Locked(*h);
          mm.forward(*b, cache.get());
          mm.logits_last(*out);
        },
        std::move(done));
    return QueueJob(
        job,
        [&] {
          *b = read(job);
          if (b->B != cache->B) throw Napi::RangeError::New(info.Env(), "decode batch size differs from the session's");
          *out = DataOrNull<float>(info[outArg], (size_t)b->B * m.cfg.V, "lastLogits");
          if (!*out) throw Napi::TypeError::New(info.Env(), "lastLogits output is required");
        },
        {info.This(), info[outArg]});
  }

  // decodeStart(ids, mask, pos, B, T, maxLength, lastLogitsOut[B*V]) -> Promise<session id>
  Napi::Value DecodeStart(const Napi::CallbackInfo& info) {
    auto& m = M(info.Env());
    int B = info[3].As<Napi::Number>().Int32Value(), maxLen = (int)NumberAt(info, 5, "maxLength");
    if (B <= 0 || maxLen <= 0) throw Napi::RangeError::New(info.Env(), "decode needs B > 0 and maxLength > 0");
    auto cache = m.new_cache(B, maxLen);
    const int id = nextCacheId_++;
    // The session exists once the prompt went through; a failed prefill leaves nothing behind.
    return QueueDecode(info, cache, [&](Job* job) { return ReadBatch(info, 0, job); }, 6,
                       [this, cache, id, h = holder_](Napi::Env env) -> Napi::Value {
                         if (h->model) caches_[id] = cache;
                         return Napi::Number::New(env, id);
                       });
  }

  // decodeStep(id, tokens[B], positions[B], lastLogitsOut[B*V]) -> Promise<void>
  Napi::Value DecodeStep(const Napi::CallbackInfo& info) {
    M(info.Env());
    const int id = (int)NumberAt(info, 0, "decode session id");
    auto it = caches_.find(id);
    if (it == caches_.end()) throw Napi::Error::New(info.Env(), "decode session " + std::to_string(id) + " was disposed");
    auto cache = it->second;
    return QueueDecode(
        info, cache,
        [&](Job* job) {
          sd::Batch b{cache->B, 1, DataOrNull<int32_t>(info[1], cache->B, "tokens"), nullptr,
                      DataOrNull<int32_t>(info[2], cache->B, "positions"), nullptr};
          if (!b.ids || !b.pos) throw Napi::TypeError::New(info.Env(), "tokens and positions are required");
          job->Pin(info[1]);
          job->Pin(info[2]);
          return b;
        },
        3, nullptr);
  }

  // decodeFree(id): drops the session's cache (a step still running keeps it until it is done).
  Napi::Value DecodeFree(const Napi::CallbackInfo& info) {
    caches_.erase((int)NumberAt(info, 0, "decode session id"));
    return info.Env().Undefined();
  }
};

// estimateBytes(RawCoreConfig, B, T) -> the bytes a core of this config holds after a training step at B x T
// (core.h estimate_bytes); nothing is allocated. Throws like the constructor on a bad config.
Napi::Value EstimateBytes(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "estimateBytes: the first argument must be the core config");
  auto o = info[0].As<Napi::Object>();
  const sd::ModelDims dims = ReadDims(o);
  const std::vector<sd::TensorRow> table = ReadTable(o);
  const std::unique_ptr<sd::LoraConfig> lora = ReadLora(o);
  const int B = (int)NumberAt(info, 1, "B"), T = (int)NumberAt(info, 2, "T");
  if (B <= 0 || T <= 0) throw Napi::RangeError::New(info.Env(), "estimateBytes: B and T must be positive");
  try {
    return Napi::Number::New(info.Env(), (double)sd::estimate_bytes(dims, table, lora.get(), B, T));
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("native core: ") + e.what());
  }
}

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
// attentionKeepBytes(n) -> the previous limit: attention kept for backward up to n bytes, else recomputed (tests).
Napi::Value AttentionKeepBytes(const Napi::CallbackInfo& info) {
  const double n = NumberAt(info, 0, "attentionKeepBytes");
  if (!(n >= 0)) throw Napi::RangeError::New(info.Env(), "attentionKeepBytes must be a non-negative number of bytes");
  return Napi::Number::New(info.Env(), (double)sd::attention_keep_bytes((size_t)n));
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
  Napi::Function gptCore = CoreWrap::Init(env);
  // Kept so the constructor can tell a GptCore from any other object passed as shareBaseOf.
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(gptCore)));
  exports.Set("GptCore", gptCore);
  exports.Set("device", Napi::String::New(env, "cpu"));
  exports.Set("abi", Napi::Number::New(env, kCoreAbi));
  // Optional parts of the interface this addon implements (CoreFeature in rawCore.ts).
  auto features = Napi::Array::New(env, 3);
  features.Set(0u, Napi::String::New(env, "lora"));
  features.Set(1u, Napi::String::New(env, "offsetWrites"));
  features.Set(2u, Napi::String::New(env, "loraShare"));
  exports.Set("features", features);
  exports.Set("estimateBytes", Napi::Function::New(env, EstimateBytes));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("benchGemm", Napi::Function::New(env, BenchGemm));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("gemmSelect", Napi::Function::New(env, GemmSelect));
  exports.Set("attentionKeepBytes", Napi::Function::New(env, AttentionKeepBytes));
  exports.Set("profileEnable", Napi::Function::New(env, ProfileEnable));
  exports.Set("profileReset", Napi::Function::New(env, ProfileReset));
  exports.Set("profileGet", Napi::Function::New(env, ProfileGet));
  return exports;
}

}  // namespace

NODE_API_MODULE(socratic_native, Init)
