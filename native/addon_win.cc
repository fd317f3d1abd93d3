// N-API glue for Windows: the only Windows file that knows napi types. It converts JS values to
// the plain C++ structs of native/win (core.h) and reports their results back. It validates only
// what it needs to stay memory-safe; lib/ validates every value before calling in.
// Written without C++ exceptions (binding.gyp builds with NAPI_DISABLE_CPP_EXCEPTIONS).
#include <napi.h>
#include <uv.h>

#include <mutex>
#include <unordered_map>

#include "win/core.h"

#define CONFINE_ADDON_VERSION "0.1.0"

namespace cw = confine::win;

namespace {

// ---- errors ---------------------------------------------------------------------------------
Napi::Error MakeJsError(Napi::Env env, const char* code, const cw::Error& e) {
  Napi::Error err = Napi::Error::New(env, cw::ErrorText(e));
  Napi::Object o = err.Value();
  o.Set("code", code);
  o.Set("syscall", e.syscall.empty() ? env.Null() : Napi::String::New(env, e.syscall));
  o.Set("errno", e.code ? Napi::String::New(env, cw::ErrorName(e.code)) : env.Null());
  o.Set("errnoNumber", e.code ? Napi::Number::New(env, e.code) : env.Null());
  const char* posix = e.code ? cw::PosixErrno(e.code) : nullptr;
  o.Set("posixErrno", posix ? Napi::String::New(env, posix) : env.Null());
  o.Set("stage", e.stage.empty() ? env.Null() : Napi::String::New(env, e.stage));
  return err;
}

Napi::Value Throw(Napi::Env env, const char* code, const cw::Error& e) {
  MakeJsError(env, code, e).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError err = Napi::TypeError::New(env, msg);
  err.Value().Set("code", "ERR_INVALID_ARG_TYPE");
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object ErrorObject(Napi::Env env, const cw::Error& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("syscall", e.syscall.empty() ? env.Null() : Napi::String::New(env, e.syscall));
  o.Set("errno", Napi::String::New(env, cw::ErrorName(e.code)));
  o.Set("errnoNumber", Napi::Number::New(env, e.code));
  o.Set("message", cw::ErrorText(e));
  return o;
}

// ---- values ---------------------------------------------------------------------------------
bool GetJob(const Napi::CallbackInfo& info, size_t i, uint32_t* id) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    ThrowType(info.Env(), "job must be a number (the job returned by spawn or openJob)");
    return false;
  }
  *id = info[i].As<Napi::Number>().Uint32Value();
  return true;
}

std::wstring W(const Napi::Value& v) {
  std::u16string s = v.As<Napi::String>().Utf16Value();
  return std::wstring(s.begin(), s.end());
}

Napi::String JsW(Napi::Env env, const std::wstring& w) {
  return Napi::String::New(env, std::u16string(w.begin(), w.end()));
}

bool StringArray(Napi::Env env, Napi::Value v, const char* what, std::vector<std::wstring>* out) {
  if (!v.IsArray()) {
    ThrowType(env, std::string(what) + " must be an array of strings");
    return false;
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) {
      ThrowType(env, std::string(what) + " must be an array of strings");
      return false;
    }
    out->push_back(W(e));
  }
  return true;
}

template <typename T>
bool LimitField(Napi::Env env, Napi::Object o, const char* key, cw::Field<T>* f) {
  if (!o.Has(key)) return true;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (v.IsNull()) {
    f->op = cw::Field<T>::kClear;
    return true;
  }
  if (v.IsBoolean()) {
    f->op = cw::Field<T>::kSet;
    f->value = static_cast<T>(v.As<Napi::Boolean>().Value());
    return true;
  }
  if (!v.IsNumber()) {
    ThrowType(env, std::string("limits.") + key + " must be a number, null or undefined");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0)) {
    ThrowType(env, std::string("limits.") + key + " must be >= 0");
    return false;
  }
  f->op = d == 0 ? cw::Field<T>::kClear : cw::Field<T>::kSet;
  f->value = static_cast<T>(d);
  return true;
}

bool ParseLimits(Napi::Env env, Napi::Value v, cw::LimitUpdate* u) {
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsObject()) {
    ThrowType(env, "limits must be an object");
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  return LimitField(env, o, "memoryBytes", &u->memoryBytes) &&
         LimitField(env, o, "processMemoryBytes", &u->processMemoryBytes) &&
         LimitField(env, o, "maxProcesses", &u->maxProcesses) &&
         LimitField(env, o, "cpu", &u->cpu) && LimitField(env, o, "cpuWeight", &u->cpuWeight) &&
         LimitField(env, o, "cpuSeconds", &u->cpuSeconds) &&
         LimitField(env, o, "killOnClose", &u->killOnClose);
}

Napi::Object LimitsObject(Napi::Env env, const cw::LimitState& s) {
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, double v) {
    o.Set(k, v ? Napi::Value(Napi::Number::New(env, v)) : env.Null());
  };
  num("memoryBytes", static_cast<double>(s.memoryBytes));
  num("processMemoryBytes", static_cast<double>(s.processMemoryBytes));
  num("maxProcesses", s.maxProcesses);
  num("cpu", s.cpu);
  num("cpuWeight", s.cpuWeight);
  num("cpuSeconds", s.cpuSeconds);
  o.Set("killOnClose", s.killOnClose);
  num("cpuRate", s.cpuRate);
  num("cpuRateWeight", s.cpuRateWeight);
  return o;
}

Napi::Object LimitResultObject(Napi::Env env, const cw::LimitResult& r) {
  Napi::Object errors = Napi::Object::New(env);
  for (const auto& kv : r.errors) errors.Set(kv.first, ErrorObject(env, kv.second));
  return errors;
}

Napi::Array NotesArray(Napi::Env env, const cw::LimitResult& r) {
  Napi::Array a = Napi::Array::New(env, r.notes.size());
  for (size_t i = 0; i < r.notes.size(); ++i) a.Set(static_cast<uint32_t>(i), r.notes[i]);
  return a;
}

Napi::Array PidArray(Napi::Env env, const std::vector<DWORD>& pids) {
  Napi::Array a = Napi::Array::New(env, pids.size());
  for (size_t i = 0; i < pids.size(); ++i) a.Set(static_cast<uint32_t>(i), pids[i]);
  return a;
}

Napi::Object StatsObject(Napi::Env env, const cw::JobStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("memoryBytes", static_cast<double>(s.memoryBytes));
  o.Set("memoryPeakBytes", static_cast<double>(s.peakMemoryBytes));
  o.Set("processMemoryPeakBytes", static_cast<double>(s.peakProcessMemoryBytes));
  o.Set("userMicros", static_cast<double>(s.userMicros));
  o.Set("systemMicros", static_cast<double>(s.systemMicros));
  o.Set("processes", s.activeProcesses);
  o.Set("totalProcesses", s.totalProcesses);
  o.Set("terminatedProcesses", s.terminatedProcesses);
  o.Set("readOps", static_cast<double>(s.readOps));
  o.Set("writeOps", static_cast<double>(s.writeOps));
  o.Set("readBytes", static_cast<double>(s.readBytes));
  o.Set("writeBytes", static_cast<double>(s.writeBytes));
  o.Set("pids", PidArray(env, s.pids));
  return o;
}

// ---- thread-safe callbacks ------------------------------------------------------------------
// One box per TSFN. `alive` turns false when we released it or when Node finalized it (env
// teardown), after which no thread may touch `fn`.
struct TsfnBox {
  std::mutex mu;
  napi_threadsafe_function fn = nullptr;
  bool alive = false;
};
std::mutex* g_boxMu = new std::mutex;
auto* g_boxes = new std::unordered_map<uint32_t, std::vector<std::shared_ptr<TsfnBox>>>;

void FinalizeBox(napi_env, void* data, void*) {
  auto* holder = static_cast<std::shared_ptr<TsfnBox>*>(data);
  {
    std::lock_guard<std::mutex> lock((*holder)->mu);
    (*holder)->alive = false;
    (*holder)->fn = nullptr;
  }
  delete holder;
}

void CallExit(napi_env env, napi_value cb, void*, void* data) {
  std::unique_ptr<cw::ExitInfo> info(static_cast<cw::ExitInfo*>(data));
  if (!env || !cb) return;
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  Napi::Object o = Napi::Object::New(e);
  o.Set("exitCode", info->exitCode);
  o.Set("oomKilled", info->oomKilled);
  o.Set("cpuTimeExceeded", info->cpuTimeExceeded);
  o.Set("terminated", info->terminated);
  o.Set("userMicros", static_cast<double>(info->stats.userMicros));
  o.Set("systemMicros", static_cast<double>(info->stats.systemMicros));
  o.Set("memoryPeakBytes", static_cast<double>(info->stats.peakMemoryBytes));
  o.Set("processMemoryPeakBytes", static_cast<double>(info->stats.peakProcessMemoryBytes));
  o.Set("processes", info->stats.activeProcesses);
  o.Set("totalProcesses", info->stats.totalProcesses);
  o.Set("pids", PidArray(e, info->stats.pids));
  napi_value argv[1] = {o};
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, cb, 1, argv, nullptr);
}

void CallEvent(napi_env env, napi_value cb, void*, void* data) {
  std::unique_ptr<cw::JobEvent> ev(static_cast<cw::JobEvent*>(data));
  if (!env || !cb) return;
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  Napi::Object o = Napi::Object::New(e);
  o.Set("type", ev->type);
  o.Set("pid", ev->pid);
  napi_value argv[1] = {o};
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, cb, 1, argv, nullptr);
}

std::shared_ptr<TsfnBox> NewBox(Napi::Env env, Napi::Function cb, const char* name,
                                napi_threadsafe_function_call_js call) {
  auto box = std::make_shared<TsfnBox>();
  auto* holder = new std::shared_ptr<TsfnBox>(box);
  napi_value resource = Napi::String::New(env, name);
  napi_status st = napi_create_threadsafe_function(env, cb, nullptr, resource, 0, 1, holder,
                                                   FinalizeBox, nullptr, call, &box->fn);
  if (st != napi_ok) {
    delete holder;
    return nullptr;
  }
  box->alive = true;
  return box;
}

void ReleaseBox(const std::shared_ptr<TsfnBox>& box) {
  std::lock_guard<std::mutex> lock(box->mu);
  if (!box->alive) return;
  napi_release_threadsafe_function(box->fn, napi_tsfn_release);
  box->alive = false;
}

void RememberBox(uint32_t id, const std::shared_ptr<TsfnBox>& box) {
  std::lock_guard<std::mutex> lock(*g_boxMu);
  (*g_boxes)[id].push_back(box);
}

// ---- exports --------------------------------------------------------------------------------
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cw::Probe p;
  cw::RunProbe(&p);
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", CONFINE_ADDON_VERSION);
  out.Set("platform", "win32");
  Napi::Object f = Napi::Object::New(env);
  f.Set("wine", p.wine.empty() ? env.Null() : Napi::String::New(env, p.wine));
  f.Set("windowsVersion", p.windowsVersion);
  f.Set("processors", p.processors);
  f.Set("jobList", p.jobList);
  f.Set("nestedJobs", p.nestedJobs);
  f.Set("cpuRateControl", p.cpuRateControl);
  f.Set("restrictedToken", p.restrictedToken);
  f.Set("console", p.console);
  out.Set("features", f);
  return out;
}

bool ParseStdio(Napi::Env env, Napi::Value v, cw::StdioSpec out[3]) {
  if (v.IsUndefined() || v.IsNull()) return true;  // all ignore
  if (!v.IsArray() || v.As<Napi::Array>().Length() > 3) {
    ThrowType(env, "stdio must be an array of at most 3 entries");
    return false;
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    std::string type;
    Napi::Object o;
    if (e.IsString()) {
      type = e.As<Napi::String>().Utf8Value();
    } else if (e.IsObject()) {
      o = e.As<Napi::Object>();
      Napi::Value t = o.Get("type");
      if (t.IsString()) type = t.As<Napi::String>().Utf8Value();
    }
    if (type == "ignore") {
      out[i].kind = cw::StdioSpec::kIgnore;
    } else if (type == "inherit" || type == "fd") {
      int fd = static_cast<int>(i);
      if (type == "fd") {
        Napi::Value f = o.Get("fd");
        if (!f.IsNumber()) {
          ThrowType(env, "stdio[].fd must be a number");
          return false;
        }
        fd = f.As<Napi::Number>().Int32Value();
      }
      out[i].kind = cw::StdioSpec::kHandle;
      uv_os_fd_t h = uv_get_osfhandle(fd);  // Node's CRT fd → its HANDLE
      out[i].handle = h;
    } else if (type == "pipe") {
      Napi::Value p = o.IsEmpty() ? Napi::Value() : o.Get("path");
      if (p.IsEmpty() || !p.IsString()) {
        ThrowType(env, "stdio[].path must be a pipe name");
        return false;
      }
      out[i].kind = cw::StdioSpec::kPipe;
      out[i].path = W(p);
    } else {
      ThrowType(env, "stdio entries are 'ignore', 'inherit', {type:'fd',fd} or {type:'pipe',path}");
      return false;
    }
  }
  return true;
}

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    return ThrowType(env, "spawn(req): req must be an object");
  Napi::Object r = info[0].As<Napi::Object>();
  cw::SpawnRequest req;
  if (!r.Get("file").IsString()) return ThrowType(env, "req.file must be a string");
  req.file = W(r.Get("file"));
  if (!StringArray(env, r.Get("argv"), "req.argv", &req.argv)) return env.Undefined();
  Napi::Value envv = r.Get("env");
  if (!envv.IsUndefined() && !envv.IsNull()) {
    if (!StringArray(env, envv, "req.env", &req.env)) return env.Undefined();
    req.hasEnv = true;
  }
  Napi::Value cwd = r.Get("cwd");
  if (cwd.IsString()) req.cwd = W(cwd);
  if (!ParseStdio(env, r.Get("stdio"), req.stdio)) return env.Undefined();
  if (!ParseLimits(env, r.Get("limits"), &req.limits)) return env.Undefined();
  req.strictLimits = r.Get("strictLimits").ToBoolean();
  req.verbatim = r.Get("verbatimArguments").ToBoolean();
  req.windowsHide = r.Get("windowsHide").ToBoolean();
  Napi::Value kill = r.Get("killOnClose");
  if (kill.IsBoolean()) {
    req.limits.killOnClose.op = cw::Field<bool>::kSet;
    req.limits.killOnClose.value = kill.As<Napi::Boolean>().Value();
  }
  Napi::Value console = r.Get("console");
  if (console.IsString()) {
    std::string c = console.As<Napi::String>().Utf8Value();
    req.console = c == "new"    ? cw::ConsoleMode::kNew
                  : c == "none" ? cw::ConsoleMode::kNone
                                : cw::ConsoleMode::kInherit;
  }
  Napi::Value rt = r.Get("restrictedToken");
  if (rt.IsObject()) {
    req.restricted = true;
    Napi::Value il = rt.As<Napi::Object>().Get("integrity");
    std::string s = il.IsString() ? il.As<Napi::String>().Utf8Value() : "";
    req.integrity = s == "low"      ? cw::Integrity::kLow
                    : s == "medium" ? cw::Integrity::kMedium
                                    : cw::Integrity::kUnchanged;
  } else if (rt.IsBoolean() && rt.As<Napi::Boolean>().Value()) {
    req.restricted = true;
  }
  Napi::Value jl = r.Get("useJobList");
  if (jl.IsBoolean()) req.useJobList = jl.As<Napi::Boolean>().Value();

  cw::SpawnResult res;
  cw::Error err;
  if (!cw::Spawn(req, &res, &err)) return Throw(env, "ERR_CONFINE_SPAWN", err);
  Napi::Object out = Napi::Object::New(env);
  out.Set("job", res.id);
  out.Set("pid", res.pid);
  out.Set("jobName", JsW(env, res.jobName));
  out.Set("startTimeMicros", static_cast<double>(res.startTimeMicros));
  out.Set("jobList", res.jobList);
  out.Set("restricted", res.restricted);
  out.Set("createCall", res.token);
  out.Set("limits", LimitsObject(env, res.limits));
  out.Set("limitErrors", LimitResultObject(env, res.limitResult));
  out.Set("notes", NotesArray(env, res.limitResult));
  return out;
}

Napi::Value Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsFunction())
    return ThrowType(env, "watch(job, onExit[, onEvent])");
  bool wantEvents = info.Length() >= 3 && info[2].IsFunction();
  std::shared_ptr<TsfnBox> evBox;
  if (wantEvents) {
    evBox = NewBox(env, info[2].As<Napi::Function>(), "confine.jobEvents", CallEvent);
    if (!evBox)
      return Throw(
          env, "ERR_CONFINE_SYSTEM",
          cw::MakeError("watch", "napi_create_threadsafe_function", ERROR_NOT_ENOUGH_MEMORY));
    napi_unref_threadsafe_function(env, evBox->fn);  // events alone do not keep the loop alive
    RememberBox(id, evBox);
  }
  auto exitBox = NewBox(env, info[1].As<Napi::Function>(), "confine.exit", CallExit);
  if (!exitBox)
    return Throw(
        env, "ERR_CONFINE_SYSTEM",
        cw::MakeError("watch", "napi_create_threadsafe_function", ERROR_NOT_ENOUGH_MEMORY));
  RememberBox(id, exitBox);
  cw::Error err;
  if (evBox) {
    bool ok = cw::WatchEvents(
        id,
        [evBox](const cw::JobEvent& ev) {
          std::lock_guard<std::mutex> lock(evBox->mu);
          if (!evBox->alive) return;
          auto* copy = new cw::JobEvent(ev);
          if (napi_call_threadsafe_function(evBox->fn, copy, napi_tsfn_nonblocking) != napi_ok)
            delete copy;
        },
        &err);
    if (!ok) {
      ReleaseBox(evBox);
      ReleaseBox(exitBox);
      return Throw(env, "ERR_CONFINE_SYSTEM", err);
    }
  }
  bool ok = cw::WatchExit(
      id,
      [exitBox](const cw::ExitInfo& ei) {
        std::lock_guard<std::mutex> lock(exitBox->mu);
        if (!exitBox->alive) return;
        auto* copy = new cw::ExitInfo(ei);
        if (napi_call_threadsafe_function(exitBox->fn, copy, napi_tsfn_nonblocking) != napi_ok)
          delete copy;
        napi_release_threadsafe_function(exitBox->fn, napi_tsfn_release);  // once: the loop may end
        exitBox->alive = false;
      },
      &err);
  if (!ok) {
    ReleaseBox(exitBox);
    if (evBox) ReleaseBox(evBox);
    return Throw(env, "ERR_CONFINE_SYSTEM", err);
  }
  return env.Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  uint32_t id;
  if (!GetJob(info, 0, &id)) return info.Env().Undefined();
  cw::Close(id);
  std::vector<std::shared_ptr<TsfnBox>> boxes;
  {
    std::lock_guard<std::mutex> lock(*g_boxMu);
    auto it = g_boxes->find(id);
    if (it != g_boxes->end()) {
      boxes.swap(it->second);
      g_boxes->erase(it);
    }
  }
  for (auto& b : boxes) ReleaseBox(b);
  return info.Env().Undefined();
}

Napi::Value Terminate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  uint32_t code =
      info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 1;
  cw::Error err;
  if (!cw::Terminate(id, code, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  return env.Undefined();
}

Napi::Value CtrlBreak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  cw::CtrlBreakResult r;
  cw::Error err;
  if (!cw::CtrlBreak(id, &r, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("delivered", r.delivered);
  o.Set("reason", r.reason.empty() ? env.Null() : Napi::String::New(env, r.reason));
  return o;
}

Napi::Value CloseWindows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  cw::CloseWindowsResult r;
  cw::Error err;
  if (!cw::CloseWindows(id, &r, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("windows", r.windows);
  o.Set("processes", r.processes);
  return o;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  cw::JobStats s;
  cw::Error err;
  if (!cw::Stats(id, &s, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  return StatsObject(env, s);
}

Napi::Value UpdateLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  cw::LimitUpdate u;
  if (!ParseLimits(env, info.Length() > 1 ? info[1] : env.Undefined(), &u)) return env.Undefined();
  cw::LimitState state;
  cw::LimitResult res;
  cw::Error err;
  if (!cw::UpdateLimits(id, u, &state, &res, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("limits", LimitsObject(env, state));
  o.Set("limitErrors", LimitResultObject(env, res));
  o.Set("notes", NotesArray(env, res));
  return o;
}

Napi::Value InJob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id;
  if (!GetJob(info, 0, &id)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsNumber()) return ThrowType(env, "inJob(job, pid)");
  bool in = false;
  cw::Error err;
  if (!cw::InJob(id, info[1].As<Napi::Number>().Uint32Value(), &in, &err)) {
    if (err.code == ERROR_INVALID_PARAMETER && err.syscall == "OpenProcess")
      return env.Null();  // gone
    return Throw(env, "ERR_CONFINE_SYSTEM", err);
  }
  return Napi::Boolean::New(env, in);
}

Napi::Value OpenJob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "openJob(name[, pid])");
  DWORD pid =
      info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  cw::OpenResult r;
  cw::Error err;
  std::wstring name = W(info[0]);
  if (!cw::OpenJob(name, pid, &r, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  cw::ChildInfo ci;
  cw::Describe(r.id, &ci, &err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("job", r.id);
  o.Set("pid", pid ? Napi::Value(Napi::Number::New(env, pid)) : env.Null());
  o.Set("jobName", JsW(env, name));
  o.Set("alive", r.alive);
  o.Set("events", r.events);
  o.Set("startTimeMicros", r.startTimeMicros ? Napi::Value(Napi::Number::New(
                                                   env, static_cast<double>(r.startTimeMicros)))
                                             : env.Null());
  o.Set("limits", LimitsObject(env, ci.limits));
  return o;
}

Napi::Value TokenInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HANDLE process = GetCurrentProcess();
  cw::Handle opened;
  if (info.Length() > 0 && info[0].IsNumber()) {
    opened.reset(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                             info[0].As<Napi::Number>().Uint32Value()));
    if (!opened.valid())
      return Throw(env, "ERR_CONFINE_SYSTEM", cw::LastError("token", "OpenProcess"));
    process = opened.get();
  }
  cw::TokenInfo t;
  cw::Error err;
  if (!cw::QueryTokenInfo(process, &t, &err)) return Throw(env, "ERR_CONFINE_SYSTEM", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("user", t.user);
  o.Set("integrity", t.integrity.empty() ? env.Null() : Napi::String::New(env, t.integrity));
  o.Set("restricted", t.restricted);
  o.Set("elevated", t.elevated);
  Napi::Array groups = Napi::Array::New(env, t.groups.size());
  for (size_t i = 0; i < t.groups.size(); ++i) {
    const auto& g = t.groups[i];
    Napi::Object go = Napi::Object::New(env);
    go.Set("sid", g.sid);
    go.Set("name", g.name.empty() ? env.Null() : Napi::String::New(env, g.name));
    go.Set("enabled", g.enabled);
    go.Set("denyOnly", g.denyOnly);
    go.Set("integrity", g.integrity);
    go.Set("logon", g.logon);
    groups.Set(static_cast<uint32_t>(i), go);
  }
  o.Set("groups", groups);
  Napi::Array privs = Napi::Array::New(env, t.privileges.size());
  for (size_t i = 0; i < t.privileges.size(); ++i)
    privs.Set(static_cast<uint32_t>(i), t.privileges[i]);
  o.Set("privileges", privs);
  return o;
}

Napi::Value HandleCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cw::HandleCount());
}

Napi::Value CommandLine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::wstring> argv;
  if (info.Length() < 1 || !StringArray(env, info[0], "argv", &argv)) return env.Undefined();
  return JsW(env, cw::BuildCommandLine(argv));
}

Napi::Value EnvironmentBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::wstring> in;
  if (info.Length() < 1 || !StringArray(env, info[0], "env", &in)) return env.Undefined();
  std::vector<wchar_t> block = cw::BuildEnvironmentBlock(in, nullptr);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i < block.size(); ++i) {
    if (block[i] != L'\0') continue;
    if (i == start) break;
    out.Set(n++, JsW(env, std::wstring(block.data() + start, i - start)));
    start = i + 1;
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("watch", Napi::Function::New(env, Watch, "watch"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("terminate", Napi::Function::New(env, Terminate, "terminate"));
  exports.Set("ctrlBreak", Napi::Function::New(env, CtrlBreak, "ctrlBreak"));
  exports.Set("closeWindows", Napi::Function::New(env, CloseWindows, "closeWindows"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  exports.Set("updateLimits", Napi::Function::New(env, UpdateLimits, "updateLimits"));
  exports.Set("inJob", Napi::Function::New(env, InJob, "inJob"));
  exports.Set("openJob", Napi::Function::New(env, OpenJob, "openJob"));
  exports.Set("tokenInfo", Napi::Function::New(env, TokenInfo, "tokenInfo"));
  exports.Set("handleCount", Napi::Function::New(env, HandleCount, "handleCount"));
  exports.Set("commandLine", Napi::Function::New(env, CommandLine, "commandLine"));
  exports.Set("environmentBlock", Napi::Function::New(env, EnvironmentBlock, "environmentBlock"));
  return exports;
}

}  // namespace

NODE_API_MODULE(confine, Init)
