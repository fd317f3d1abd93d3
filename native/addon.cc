// N-API glue: the only file that knows napi types. It converts JS values to the plain C++
// structs of the per-OS cores and reports their results back as JS values.
#include <napi.h>

#define CONFINE_ADDON_VERSION "0.1.0"

static Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", CONFINE_ADDON_VERSION);
  out.Set("features", Napi::Object::New(env));
  return out;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  return exports;
}

NODE_API_MODULE(confine, Init)
