// N-API binding of the CUDA core (socratic_cuda.node; GPT-2 and the Llama family): the shared core interface of
// src/backend/native/rawCore.ts (the CPU addon implements the same one) plus probe(). Every call is synchronous;
// errors from CUDA or cuBLAS become JS Errors with the failing call in the message.
#include <napi.h>

#include <memory>
#include <vector>

#include "model.h"

namespace {

using sdcuda::Batch;
using sdcuda::Transformer;

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

// The shared core interface (src/backend/native/rawCore.ts), version 4; the CPU addon implements the same one.
// Of its optional features (the CPU addon's `features`) this addon has none: it refuses RawCoreConfig.lora and
// writes whole buffers only (no offset).
constexpr int kCoreAbi = 4;

// A Float32Array of exactly n floats, or null when `v` is null/undefined.
float* f32_or_null(const Napi::Value& v, size_t n, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw std::runtime_error(std::string(what) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  if (a.ElementLength() != n)
    throw std::runtime_error(std::string(what) + " has length " + std::to_string(a.ElementLength()) + ", expected " + std::to_string(n));
  return a.Data();
}

class GptCore : public Napi::ObjectWrap<GptCore> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GptCore",
                       {InstanceMethod("numParams", &GptCore::NumParams), InstanceMethod("readBuffers", &GptCore::ReadBuffers),
                        InstanceMethod("writeBuffers", &GptCore::WriteBuffers), InstanceMethod("zeroGrads", &GptCore::ZeroGrads),
                        InstanceMethod("gradNorm", &GptCore::GradNorm), InstanceMethod("forward", &GptCore::Forward),
                        InstanceMethod("loss", &GptCore::Loss), InstanceMethod("adamw", &GptCore::AdamW),
                        InstanceMethod("decodeStart", &GptCore::DecodeStart), InstanceMethod("decodeStep", &GptCore::DecodeStep),
                        InstanceMethod("decodeFree", &GptCore::DecodeFree), InstanceMethod("bytes", &GptCore::Bytes),
                        InstanceMethod("dispose", &GptCore::Dispose)});
  }

  // new GptCore(RawCoreConfig {arch, vocab, maxT, C, L, NH, NKV, HD, F, eps, ropeTheta, qkNorm, qkvBias, oBias, tied,
  // tensors: [{role, layer, numel, decay}]}, precision 0 fp32 | 1 tf32 | 2 bf16)
  explicit GptCore(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GptCore>(info) {
    const int prec = info[1].IsUndefined() ? 0 : info[1].As<Napi::Number>().Int32Value();
    guard(info.Env(), [&] {
      if (!info[0].IsObject()) throw std::runtime_error("the core config must be an object (RawCoreConfig)");
      std::vector<sdcuda::TensorRow> table;
      cfg_ = dims_of(info[0].As<Napi::Object>(), table);
      if (prec < 0 || prec > 2) throw std::runtime_error("precision " + std::to_string(prec) + " is not 0 (fp32), 1 (tf32) or 2 (bf16)");
      gpt_ = std::make_unique<Transformer>(cfg_, table, static_cast<sdcuda::Precision>(prec));
    });
  }

 private:
  // RawCoreConfig -> the model shape and the layout table (checked by sd::layout::parse_table in the core).
  static sdcuda::ModelDims dims_of(const Napi::Object& c, std::vector<sdcuda::TensorRow>& table) {
    auto field = [&](const char* k, napi_valuetype t) {
      Napi::Value v = c.Get(k);
      if (v.Type() != t) throw std::runtime_error(std::string("core config field '") + k + "' is missing or has the wrong type");
      return v;
    };
    auto num = [&](const char* k) { return field(k, napi_number).As<Napi::Number>().Int32Value(); };
    auto real = [&](const char* k) { return field(k, napi_number).As<Napi::Number>().FloatValue(); };
    auto flag = [&](const char* k) { return field(k, napi_boolean).As<Napi::Boolean>().Value(); };
    sdcuda::ModelDims d;
    const std::string arch = field("arch", napi_string).As<Napi::String>().Utf8Value();
    if (arch != "gpt2" && arch != "llama") throw std::runtime_error("core config arch '" + arch + "' is not gpt2 or llama");
    d.arch = arch == "gpt2" ? sdcuda::Arch::GPT2 : sdcuda::Arch::Llama;
    d.V = num("vocab"), d.maxT = num("maxT"), d.C = num("C"), d.L = num("L");
    d.NH = num("NH"), d.NKV = num("NKV"), d.HD = num("HD"), d.F = num("F");
    d.eps = real("eps"), d.ropeTheta = real("ropeTheta");
    d.qkNorm = flag("qkNorm"), d.qkvBias = flag("qkvBias"), d.oBias = flag("oBias"), d.tied = flag("tied");
    Napi::Value lora = c.Get("lora");
    if (!lora.IsNull() && !lora.IsUndefined()) throw std::runtime_error("LoRA adapters are not implemented in the CUDA core");
    Napi::Value t = c.Get("tensors");
    if (!t.IsArray()) throw std::runtime_error("core config field 'tensors' must be the layout table (an array of rows)");
    Napi::Array rows = t.As<Napi::Array>();
    for (uint32_t i = 0; i < rows.Length(); i++) {
      Napi::Value rv = rows.Get(i);
      if (!rv.IsObject()) throw std::runtime_error("layout table: row " + std::to_string(i) + " is not an object");
      Napi::Object r = rv.As<Napi::Object>();
      if (!r.Get("role").IsString() || !r.Get("layer").IsNumber() || !r.Get("numel").IsNumber() || !r.Get("decay").IsBoolean())
        throw std::runtime_error("layout table: row " + std::to_string(i) + " needs role (string), layer, numel (numbers), decay (boolean)");
      const double numel = r.Get("numel").As<Napi::Number>().DoubleValue();
      if (!(numel >= 0)) throw std::runtime_error("layout table: row " + std::to_string(i) + " has a negative numel");
      table.push_back({r.Get("role").As<Napi::String>().Utf8Value(), r.Get("layer").As<Napi::Number>().Int32Value(), static_cast<size_t>(numel),
                       r.Get("decay").As<Napi::Boolean>().Value()});
    }
    return d;
  }

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
  Transformer& gpt() {
    if (!gpt_) throw std::runtime_error("the core was disposed");
    return *gpt_;
  }
  static Batch batch_of(const Napi::CallbackInfo& info, int first) {
    // (ids Int32Array, mask Uint8Array|null, pos Int32Array|null, B, T)
    Batch b{};
    b.ids = info[first].As<Napi::Int32Array>().Data();
    b.mask = typed_or_null<uint8_t>(info[first + 1]);
    b.pos = typed_or_null<int32_t>(info[first + 2]);
    b.B = info[first + 3].As<Napi::Number>().Int32Value();
    b.T = info[first + 4].As<Napi::Number>().Int32Value();
    b.labels = nullptr;
    return b;
  }
  // The arrays named params, grads, m, v in info[0] (each of numParams floats, or absent).
  struct Named {
    float *params, *grads, *m, *v;
  };
  Named named(const Napi::CallbackInfo& info) {
    if (!info[0].IsObject()) throw std::runtime_error("buffers must be an object of named Float32Arrays");
    Napi::Object o = info[0].As<Napi::Object>();
    const size_t n = gpt().num_params();
    return {f32_or_null(o.Get("params"), n, "params"), f32_or_null(o.Get("grads"), n, "grads"), f32_or_null(o.Get("m"), n, "m"),
            f32_or_null(o.Get("v"), n, "v")};
  }

  Napi::Value NumParams(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gpt_ ? gpt_->num_params() : 0); }
  // readBuffers({params?, grads?, m?, v?}): copies each named device buffer into the given host array.
  Napi::Value ReadBuffers(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      const Named b = named(info);
      if (b.params) gpt_->get_params(b.params);
      if (b.grads) gpt_->get_grads(b.grads);
      if (b.m || b.v) {
        // AdamW state moves as one pair; a lone m or v goes through a scratch copy of the other.
        std::vector<float> scratch(b.m && b.v ? 0 : gpt_->num_params());
        gpt_->get_adam(b.m ? b.m : scratch.data(), b.v ? b.v : scratch.data());
      }
    });
    return info.Env().Undefined();
  }
  // writeBuffers({params?, m?, v?}): copies each given host array into the named device buffer (never the gradients).
  Napi::Value WriteBuffers(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      const Named b = named(info);
      // Same rule as the CPU core: gradients come only from loss(backward) and zeroGrads.
      if (b.grads) throw std::runtime_error("gradients cannot be written");
      if (b.params) gpt_->set_params(b.params);
      if (b.m || b.v) {
        std::vector<float> m, v;
        if (!b.m || !b.v) {
          m.resize(gpt_->num_params());
          v.resize(gpt_->num_params());
          gpt_->get_adam(m.data(), v.data());
        }
        gpt_->set_adam(b.m ? b.m : m.data(), b.v ? b.v : v.data());
      }
    });
    return info.Env().Undefined();
  }
  Napi::Value ZeroGrads(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] { gpt().zero_grads(); });
    return info.Env().Undefined();
  }
  Napi::Value GradNorm(const Napi::CallbackInfo& info) {
    double n = 0;
    guard(info.Env(), [&] { n = gpt().grad_norm(); });
    return Napi::Number::New(info.Env(), n);
  }
  // forward(ids, mask, pos, B, T, logitsOut[B*T*V] | null, wantHidden) -> Float32Array[] (n_layer + 1 of [B,T,C]) | undefined
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Value out = env.Undefined();
    guard(env, [&] {
      Transformer& g = gpt();
      const Batch b = batch_of(info, 0);
      const size_t BT = static_cast<size_t>(b.B) * b.T;
      float* logits = f32_or_null(info[5], BT * cfg_.V, "logits");
      const int nHidden = info[6].ToBoolean() ? cfg_.L + 1 : 0;
      std::vector<float*> hidden;
      Napi::Array hs = Napi::Array::New(env, nHidden);
      for (int i = 0; i < nHidden; i++) {
        Napi::Float32Array h = new_f32(env, BT * static_cast<size_t>(cfg_.C));
        hidden.push_back(h.Data());
        hs.Set(static_cast<uint32_t>(i), h);
      }
      g.forward(b, logits, hidden);
      if (nHidden > 0) out = hs;
    });
    return out;
  }
  // loss(ids, mask, pos, B, T, labels, backward, scale) -> {loss, tokens}
  Napi::Value Loss(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    guard(env, [&] {
      Batch b = batch_of(info, 0);
      b.labels = info[5].As<Napi::Int32Array>().Data();
      const sdcuda::LossOut r = gpt().loss(b, info[6].As<Napi::Boolean>().Value(), info[7].As<Napi::Number>().FloatValue());
      out.Set("loss", r.loss);
      out.Set("tokens", r.tokens);
    });
    return out;
  }
  // adamw(lr, beta1, beta2, eps, weightDecay, clipCoef, step); clears the gradients after the update.
  Napi::Value AdamW(const Napi::CallbackInfo& info) {
    auto d = [&](int i) { return info[i].As<Napi::Number>().DoubleValue(); };
    guard(info.Env(), [&] {
      Transformer& g = gpt();
      g.adamw(d(0), d(1), d(2), d(3), d(4), d(5), info[6].As<Napi::Number>().Int32Value());
      g.zero_grads();
    });
    return info.Env().Undefined();
  }
  // decodeStart(ids, mask, pos, B, T, maxLength, lastLogitsOut[B*V]) -> session id
  Napi::Value DecodeStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int id = 0;
    const bool ok = guard(env, [&] {
      const Batch b = batch_of(info, 0);
      const int maxLen = info[5].As<Napi::Number>().Int32Value();
      float* out = f32_or_null(info[6], static_cast<size_t>(b.B) * cfg_.V, "lastLogits");
      if (!out) throw std::runtime_error("lastLogits output is required");
      id = gpt().decode_start(b, maxLen, out);
    });
    return ok ? Napi::Value(Napi::Number::New(env, id)) : env.Undefined();
  }
  // decodeStep(id, tokens[B], positions[B], lastLogitsOut[B*V])
  Napi::Value DecodeStep(const Napi::CallbackInfo& info) {
    guard(info.Env(), [&] {
      gpt().decode_step(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Int32Array>().Data(),
                        info[2].As<Napi::Int32Array>().Data(), info[3].As<Napi::Float32Array>().Data());
    });
    return info.Env().Undefined();
  }
  Napi::Value DecodeFree(const Napi::CallbackInfo& info) {
    if (gpt_) guard(info.Env(), [&] { gpt_->decode_free(info[0].As<Napi::Number>().Int32Value()); });
    return info.Env().Undefined();
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), gpt_ ? static_cast<double>(gpt_->bytes()) : 0.0);
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    gpt_.reset();
    return info.Env().Undefined();
  }

  sdcuda::ModelDims cfg_{};
  std::unique_ptr<Transformer> gpt_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("GptCore", GptCore::Define(env));
  exports.Set("device", Napi::String::New(env, "cuda"));
  exports.Set("abi", Napi::Number::New(env, kCoreAbi));
  return exports;
}

}  // namespace

NODE_API_MODULE(socratic_cuda, Init)
