// The environment block for CreateProcessW(CREATE_UNICODE_ENVIRONMENT): "K=V\0...\0\0", sorted
// by name without regard to case or locale (ordinal, upper-cased), as Windows keeps its own.
#include <algorithm>

#include "core.h"

namespace confine {
namespace win {

namespace {
std::wstring NameOf(const std::wstring& kv) {
  size_t eq = kv.find(L'=', 1);  // a leading '=' belongs to the name ("=C:=C:\dir")
  return eq == std::wstring::npos ? std::wstring() : kv.substr(0, eq);
}
int CompareNames(const std::wstring& a, const std::wstring& b) {
  int r = CompareStringOrdinal(a.data(), static_cast<int>(a.size()), b.data(),
                               static_cast<int>(b.size()), TRUE);
  return r - CSTR_EQUAL;  // <0, 0, >0
}
}  // namespace

std::vector<wchar_t> BuildEnvironmentBlock(const std::vector<std::wstring>& env, size_t* skipped) {
  struct Item {
    std::wstring name;
    const std::wstring* kv;
    size_t order;
  };
  std::vector<Item> items;
  size_t bad = 0;
  for (size_t i = 0; i < env.size(); ++i) {
    std::wstring name = NameOf(env[i]);
    if (name.empty() || env[i].find(L'\0') != std::wstring::npos) {
      ++bad;
      continue;
    }
    items.push_back({std::move(name), &env[i], i});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    int c = CompareNames(a.name, b.name);
    return c != 0 ? c < 0 : a.order < b.order;
  });
  std::vector<wchar_t> block;
  const std::wstring* prev = nullptr;
  for (const Item& it : items) {
    if (prev && CompareNames(*prev, it.name) == 0) {
      ++bad;
      continue;
    }  // first one wins
    prev = &it.name;
    block.insert(block.end(), it.kv->begin(), it.kv->end());
    block.push_back(L'\0');
  }
  if (block.empty()) block.push_back(L'\0');  // an empty block is two NULs
  block.push_back(L'\0');
  if (skipped) *skipped = bad;
  return block;
}

}  // namespace win
}  // namespace confine
