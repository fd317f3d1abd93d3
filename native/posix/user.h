// User database lookups for runAs: who a user is and which groups initgroups would give them.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace confine {

struct UserInfo {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string name;
  std::string home;
  std::string shell;
  // The full supplementary list as initgroups(3) would set it, primary gid included.
  std::vector<uint32_t> groups;
};

struct LookupResult {
  bool found = false;
  UserInfo user;
  int err = 0;                    // non-zero: the lookup itself failed (not "no such user")
  const char* syscall = nullptr;  // which call failed, when err != 0
};

LookupResult LookupUserByName(const std::string& name);
LookupResult LookupUserById(uint32_t uid);

}  // namespace confine
