// N-API binding of the CUDA GPT-2 core (socratic_cuda.node). Every call is synchronous; errors from CUDA or
// cuBLAS become JS Errors with the failing call in the message.
#include <napi.h>

#include <memory>
#include <vector>

#include "model.h"

namespace {

using sdcuda::Batch;
using sdcuda::Gpt;

template <typename T>
T* typed_or_null(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return v.As<Napi::TypedArrayOf<T>>().Data();
}

Napi::Float32Array new_f32(Napi::Env env, size_t n) { return Napi::Float32Array::New(env, n); }

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const sdcuda::DeviceInfo d = sdcuda::probe_device();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("ok", d.ok);
  if (!d.ok) o.Set("reason", d.reason);
  o.Set("device", d.name);
  o.Set("computeCapability", std::to_string(d.ccMajor) + "." + std::to_string(d.ccMinor));
  o.Set("driverVersion", d.driverVersion);
  o.Set("runtimeVersion", d.runtimeVersion);
  o.Set("cublas", d.cublas);
  o.Set("totalMemory", static_cast<double>(d.totalMemory));
  return o;
}

class CudaGpt : public Napi::ObjectWrap<CudaGpt> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaGpt",
                       {InstanceMethod("numParams", &CudaGpt::NumParams), InstanceMethod("setParams", &CudaGpt::SetParams),
                        InstanceMethod("getParams", &CudaGpt::GetParams), InstanceMethod("getGrads", &CudaGpt::GetGrads),
                        InstanceMethod("zeroGrads", &CudaGpt::ZeroGrads), InstanceMethod("getAdam", &CudaGpt::GetAdam),
                        InstanceMethod("setAdam", &CudaGpt::SetAdam), InstanceMethod("forward", &CudaGpt::Forward),
                        InstanceMethod("loss", &CudaGpt::Loss), InstanceMethod("gradNorm", &CudaGpt::GradNorm),
                        InstanceMethod("adamw", &CudaGpt::AdamW), InstanceMethod("decodeStart", &CudaGpt::DecodeStart),
                        InstanceMethod("decodeStep", &CudaGpt::DecodeStep), InstanceMethod("decodeFree", &CudaGpt::DecodeFree),
                        InstanceMethod("memoryBytes", &CudaGpt::MemoryBytes), InstanceMethod("dispose", &CudaGpt::Dispose)});
  }

  // new CudaGpt({vocab, maxT, C, L, NH, F, eps}, precision 0 fp32 | 1 tf32 | 2 bf16)
  explicit CudaGpt(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaGpt>(info) {
    Napi::Object c = info[0].As<Napi::Object>();
    auto num = [&](const char* k) { return c.Get(k).As<Napi::Number>().Int32Value(); };
    sdcuda::ModelConfig cfg{num("vocab"), num("maxT"), num("C"), num("L"), num("NH"), num("F"), c.Get("eps").As<Napi::Number>().FloatValue()};
    const int prec = info[1].As<Napi::Number>().Int32Value();
    guard(info.Env(), [&] { gpt_ = std::make_unique<Gpt>(cfg, static_cast<sdcuda::Precision>(prec)); });
  }

 private:
  template <typename F>
  bool guard(Napi::Env env, F&& f) {
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      Napi::Error::New(env, std::string("native-cuda: ") + e.what()).ThrowAsJavaScriptException();
      return false;
    }
  }
  Gpt& gpt(Napi::Env env) {
    if (!gpt_) throw std::runtime_error("the core was disposed");
    (void)env;
    return *gpt_;
  }
  static Batch batch_of(const Napi::CallbackInfo& info, int first) {
    // (ids Int32Array, B, T, mask Uint8Array|null, pos Int32Array|null)
    Batch b{};
    b.ids = info[first].As<Napi::Int32Array>().Data();
    b.B = info[first + 1].As<Napi::Number>().Int32Value();
    b.T = info[first + 2].As<Napi::Number>().Int32Value();
    b.mask = typed_or_null<uint8_t>(info[first + 3]);
    b.pos = typed_or_null<int32_t>(info[first + 4]);
    b.labels = nullptr;
    return b;
  }

  Napi::Value NumParams(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gpt_ ? gpt_->num_params() : 0); }
  Napi::Value SetParams(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { gpt(info.Env()).set_params(info[0].As<Napi::Float32Array>().Data()); });
    return info.Env().Undefined();
  }
  Napi::Value GetParams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Float32Array out;
    guard(env, [&] {
      out = new_f32(env, gpt(env).num_params());
      gpt_->get_params(out.Data());
    });
    return out.IsEmpty() ? env.Undefined() : Napi::Value(out);
  }
  Napi::Value GetGrads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Float32Array out;
    guard(env, [&] {
      out = new_f32(env, gpt(env).num_params());
      gpt_->get_grads(out.Data());
    });
    return out.IsEmpty() ? env.Undefined() : Napi::Value(out);
  }
  Napi::Value ZeroGrads(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { gpt(info.Env()).zero_grads(); });
    return info.Env().Undefined();
  }
  Napi::Value GetAdam(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env, 2);
    guard(env, [&] {
      const size_t n = gpt(env).num_params();
      Napi::Float32Array m = new_f32(env, n), v = new_f32(env, n);
      gpt_->get_adam(m.Data(), v.Data());
      arr.Set(0u, m);
      arr.Set(1u, v);
    });
    return arr;
  }
  Napi::Value SetAdam(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      gpt(info.Env()).set_adam(info[0].As<Napi::Float32Array>().Data(), info[1].As<Napi::Float32Array>().Data());
    });
    return info.Env().Undefined();
  }
  // forward(ids, B, T, mask, pos, wantLogits, nHidden) -> {logits?, hidden?}
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    guard(env, [&] {
      Gpt& g = gpt(env);
      const Batch b = batch_of(info, 0);
      const bool wantLogits = info[5].As<Napi::Boolean>().Value();
      const int nHidden = info[6].As<Napi::Number>().Int32Value();
      const size_t BT = static_cast<size_t>(b.B) * b.T;
      float* logits = nullptr;
      if (wantLogits) {
        // vocab = numel(wte) / C is not known here; the caller passes the logits size as arg 7.
        Napi::Float32Array l = new_f32(env, static_cast<size_t>(info[7].As<Napi::Number>().Int64Value()));
        logits = l.Data();
        out.Set("logits", l);
      }
      std::vector<float*> hidden;
      Napi::Array hs = Napi::Array::New(env, nHidden);
      for (int i = 0; i < nHidden; i++) {
        Napi::Float32Array h = new_f32(env, BT * static_cast<size_t>(info[8].As<Napi::Number>().Int32Value()));
        hidden.push_back(h.Data());
        hs.Set(static_cast<uint32_t>(i), h);
      }
      if (nHidden > 0) out.Set("hidden", hs);
      g.forward(b, logits, hidden);
    });
    return out;
  }
  // loss(ids, B, T, mask, pos, labels, backward, scale) -> {loss, tokens}
  Napi::Value Loss(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    guard(env, [&] {
      Batch b = batch_of(info, 0);
      b.labels = info[5].As<Napi::Int32Array>().Data();
      const sdcuda::LossOut r = gpt(env).loss(b, info[6].As<Napi::Boolean>().Value(), info[7].As<Napi::Number>().FloatValue());
      out.Set("loss", r.loss);
      out.Set("tokens", r.tokens);
    });
    return out;
  }
  Napi::Value GradNorm(const Napi::CallbackInfo& info) {
    double n = 0;
    guard(info.Env(), [&] { n = gpt(info.Env()).grad_norm(); });
    return Napi::Number::New(info.Env(), n);
  }
  // adamw(lr, beta1, beta2, eps, weightDecay, clipCoef, step)
  Napi::Value AdamW(const Napi::CallbackInfo& info) {
    auto d = [&](int i) { return info[i].As<Napi::Number>().DoubleValue(); };
    guard(info.Env(), [&] { gpt(info.Env()).adamw(d(0), d(1), d(2), d(3), d(4), d(5), info[6].As<Napi::Number>().Int32Value()); });
    return info.Env().Undefined();
  }
  // decodeStart(ids, B, T, mask, pos, maxLen, vocab) -> {id, logits}
  Napi::Value DecodeStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    guard(env, [&] {
      const Batch b = batch_of(info, 0);
      const int maxLen = info[5].As<Napi::Number>().Int32Value();
      Napi::Float32Array l = new_f32(env, static_cast<size_t>(b.B) * info[6].As<Napi::Number>().Int32Value());
      const int id = gpt(env).decode_start(b, maxLen, l.Data());
      out.Set("id", id);
      out.Set("logits", l);
    });
    return out;
  }
  // decodeStep(id, tokens, positions, out Float32Array[B*V])
  Napi::Value DecodeStep(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      gpt(info.Env()).decode_step(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Int32Array>().Data(),
                                  info[2].As<Napi::Int32Array>().Data(), info[3].As<Napi::Float32Array>().Data());
    });
    return info.Env().Undefined();
  }
  Napi::Value DecodeFree(const Napi::CallbackInfo& info) {
    if (gpt_) guard(info.Env(), [&] { gpt_->decode_free(info[0].As<Napi::Number>().Int32Value()); });
    return info.Env().Undefined();
  }
  Napi::Value MemoryBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), gpt_ ? static_cast<double>(gpt_->bytes()) : 0.0);
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    gpt_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<Gpt> gpt_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("CudaGpt", CudaGpt::Define(env));
  exports.Set("abi", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(socratic_cuda, Init)
