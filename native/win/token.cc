// Least privilege without a password: a restricted primary token derived from the supervisor's
// own. CreateProcessAsUserW accepts a restricted version of the caller's primary token without
// SE_ASSIGNPRIMARYTOKEN_NAME (Microsoft's "Restricted Tokens" page), so no privilege is needed.
#include "core.h"

#include <sddl.h>
#include <cstring>

namespace confine {
namespace win {

namespace {
// Groups that grant administrative power when enabled; made deny-only in the child's token.
bool IsPrivilegedSid(PSID sid) {
  if (!IsValidSid(sid)) return false;
  SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
  if (memcmp(GetSidIdentifierAuthority(sid), &nt, sizeof nt) != 0) return false;
  UCHAR n = *GetSidSubAuthorityCount(sid);
  if (n == 0) return false;
  DWORD first = *GetSidSubAuthority(sid, 0);
  DWORD last = *GetSidSubAuthority(sid, n - 1);
  if (n == 1 && first == 114) return true;  // S-1-5-114: local account and member of Administrators
  if (n == 2 && first == SECURITY_BUILTIN_DOMAIN_RID) {
    switch (last) {
      case 544:  // Administrators
      case 547:  // Power Users
      case 548:  // Account Operators
      case 549:  // Server Operators
      case 550:  // Print Operators
      case 551:  // Backup Operators
      case 552:  // Replicator
      case 556:  // Network Configuration Operators
      case 578:  // Hyper-V Administrators
      case 579:  // Access Control Assistance Operators
      case 582:  // Storage Replica Administrators
        return true;
    }
    return false;
  }
  if (n == 5 && first == SECURITY_NT_NON_UNIQUE) {  // S-1-5-21-<domain>-RID
    switch (last) {
      case 512:  // Domain Admins
      case 516:  // Domain Controllers
      case 518:  // Schema Admins
      case 519:  // Enterprise Admins
      case 520:  // Group Policy Creator Owners
      case 526:  // Key Admins
      case 527:  // Enterprise Key Admins
        return true;
    }
  }
  return false;
}

std::vector<unsigned char> TokenInfoBuf(HANDLE token, TOKEN_INFORMATION_CLASS cls, DWORD* gle) {
  DWORD size = 0;
  GetTokenInformation(token, cls, nullptr, 0, &size);
  std::vector<unsigned char> buf(size ? size : 1);
  if (!GetTokenInformation(token, cls, buf.data(), static_cast<DWORD>(buf.size()), &size)) {
    *gle = GetLastError();
    buf.clear();
  }
  return buf;
}

std::string SidString(PSID sid) {
  char* s = nullptr;
  std::string out;
  if (ConvertSidToStringSidA(sid, &s) && s) out = s;
  if (s) LocalFree(s);
  return out;
}

std::string SidName(PSID sid) {
  wchar_t name[256], domain[256];
  DWORD nn = 256, dn = 256;
  SID_NAME_USE use;
  if (!LookupAccountSidW(nullptr, sid, name, &nn, domain, &dn, &use)) return {};
  std::wstring full = dn && domain[0] ? std::wstring(domain) + L"\\" + name : std::wstring(name);
  return Narrow(full);
}

DWORD IntegrityRid(HANDLE token) {
  DWORD gle = 0;
  auto buf = TokenInfoBuf(token, TokenIntegrityLevel, &gle);
  if (buf.empty()) return 0xFFFFFFFF;
  auto* ml = reinterpret_cast<TOKEN_MANDATORY_LABEL*>(buf.data());
  UCHAR n = *GetSidSubAuthorityCount(ml->Label.Sid);
  return n ? *GetSidSubAuthority(ml->Label.Sid, n - 1) : 0xFFFFFFFF;
}
}  // namespace

bool MakeRestrictedToken(Integrity integrity, Handle* out, Error* err) {
  HANDLE raw = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(),
                        TOKEN_DUPLICATE | TOKEN_QUERY | TOKEN_ASSIGN_PRIMARY | TOKEN_ADJUST_DEFAULT,
                        &raw)) {
    *err = LastError("token", "OpenProcessToken");
    return false;
  }
  Handle self(raw);
  DWORD gle = 0;
  auto groupsBuf = TokenInfoBuf(self.get(), TokenGroups, &gle);
  if (groupsBuf.empty()) {
    *err = MakeError("token", "GetTokenInformation", gle);
    return false;
  }
  auto* groups = reinterpret_cast<TOKEN_GROUPS*>(groupsBuf.data());
  std::vector<SID_AND_ATTRIBUTES> deny;
  for (DWORD i = 0; i < groups->GroupCount; ++i) {
    const SID_AND_ATTRIBUTES& g = groups->Groups[i];
    if (g.Attributes & (SE_GROUP_INTEGRITY | SE_GROUP_LOGON_ID)) continue;
    if (IsPrivilegedSid(g.Sid)) deny.push_back({g.Sid, 0});
  }
  HANDLE restricted = nullptr;
  if (!CreateRestrictedToken(self.get(), DISABLE_MAX_PRIVILEGE, static_cast<DWORD>(deny.size()),
                             deny.empty() ? nullptr : deny.data(), 0, nullptr, 0, nullptr,
                             &restricted)) {
    *err = LastError("token", "CreateRestrictedToken");
    return false;
  }
  Handle token(restricted);
  DWORD target = 0;
  if (integrity == Integrity::kLow) target = SECURITY_MANDATORY_LOW_RID;
  if (integrity == Integrity::kMedium &&
      IntegrityRid(token.get()) > SECURITY_MANDATORY_MEDIUM_RID &&
      IntegrityRid(token.get()) != 0xFFFFFFFF)
    target = SECURITY_MANDATORY_MEDIUM_RID;
  if (target) {
    SID_IDENTIFIER_AUTHORITY ml = SECURITY_MANDATORY_LABEL_AUTHORITY;
    PSID sid = nullptr;
    if (!AllocateAndInitializeSid(&ml, 1, target, 0, 0, 0, 0, 0, 0, 0, &sid)) {
      *err = LastError("token", "AllocateAndInitializeSid");
      return false;
    }
    TOKEN_MANDATORY_LABEL label;
    label.Label.Sid = sid;
    label.Label.Attributes = SE_GROUP_INTEGRITY;
    BOOL ok = SetTokenInformation(token.get(), TokenIntegrityLevel, &label,
                                  sizeof label + GetLengthSid(sid));
    DWORD e = GetLastError();
    FreeSid(sid);
    if (!ok) {
      *err = MakeError("token", "SetTokenInformation", e);
      return false;
    }
  }
  *out = std::move(token);
  return true;
}

bool QueryTokenInfo(HANDLE process, TokenInfo* out, Error* err) {
  HANDLE raw = nullptr;
  if (!OpenProcessToken(process, TOKEN_QUERY, &raw)) {
    *err = LastError("token", "OpenProcessToken");
    return false;
  }
  Handle token(raw);
  DWORD gle = 0;
  auto user = TokenInfoBuf(token.get(), TokenUser, &gle);
  if (!user.empty()) {
    PSID sid = reinterpret_cast<TOKEN_USER*>(user.data())->User.Sid;
    out->user = SidName(sid);
    if (out->user.empty()) out->user = SidString(sid);
  }
  DWORD rid = IntegrityRid(token.get());
  switch (rid) {
    case SECURITY_MANDATORY_UNTRUSTED_RID: out->integrity = "untrusted"; break;
    case SECURITY_MANDATORY_LOW_RID: out->integrity = "low"; break;
    case SECURITY_MANDATORY_MEDIUM_RID: out->integrity = "medium"; break;
    case 0x2100:  // SECURITY_MANDATORY_MEDIUM_PLUS_RID out->integrity = "medium-plus"; break;
    case SECURITY_MANDATORY_HIGH_RID: out->integrity = "high"; break;
    case SECURITY_MANDATORY_SYSTEM_RID: out->integrity = "system"; break;
    case 0xFFFFFFFF: out->integrity = ""; break;
    default: out->integrity = "rid-" + std::to_string(rid);
  }
  out->restricted = IsTokenRestricted(token.get()) != FALSE;
  TOKEN_ELEVATION elev = {0};
  DWORD sz = 0;
  if (GetTokenInformation(token.get(), TokenElevation, &elev, sizeof elev, &sz))
    out->elevated = elev.TokenIsElevated != 0;
  auto groupsBuf = TokenInfoBuf(token.get(), TokenGroups, &gle);
  if (!groupsBuf.empty()) {
    auto* groups = reinterpret_cast<TOKEN_GROUPS*>(groupsBuf.data());
    for (DWORD i = 0; i < groups->GroupCount; ++i) {
      const SID_AND_ATTRIBUTES& g = groups->Groups[i];
      TokenGroup tg;
      tg.sid = SidString(g.Sid);
      tg.name = SidName(g.Sid);
      tg.enabled = (g.Attributes & SE_GROUP_ENABLED) != 0;
      tg.denyOnly = (g.Attributes & SE_GROUP_USE_FOR_DENY_ONLY) != 0;
      tg.integrity = (g.Attributes & SE_GROUP_INTEGRITY) != 0;
      tg.logon = (g.Attributes & SE_GROUP_LOGON_ID) == SE_GROUP_LOGON_ID;
      out->groups.push_back(std::move(tg));
    }
  }
  auto privBuf = TokenInfoBuf(token.get(), TokenPrivileges, &gle);
  if (!privBuf.empty()) {
    auto* privs = reinterpret_cast<TOKEN_PRIVILEGES*>(privBuf.data());
    for (DWORD i = 0; i < privs->PrivilegeCount; ++i) {
      wchar_t name[128];
      DWORD n = 128;
      LUID luid = privs->Privileges[i].Luid;
      if (LookupPrivilegeNameW(nullptr, &luid, name, &n)) out->privileges.push_back(Narrow(name));
    }
  }
  return true;
}

}  // namespace win
}  // namespace confine
