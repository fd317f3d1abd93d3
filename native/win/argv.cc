// Command lines for CreateProcessW, quoted so that the MSVC runtime (and CommandLineToArgvW)
// parses them back into exactly the argv given.
//
// Rules of the parser (arguments after the program name):
//   - arguments are separated by spaces or tabs outside double quotes;
//   - a double quote toggles "inside quotes"; 2n backslashes before a quote are n backslashes
//     and the quote is special; 2n+1 backslashes before a quote are n backslashes and a literal
//     quote; backslashes not followed by a quote are literal.
// So an argument is left bare when it is non-empty and has no space, tab, newline, vertical tab
// or quote; otherwise it is wrapped in quotes, every quote is preceded by 2n+1 backslashes (n
// being the backslashes before it) and the backslashes before the closing quote are doubled.
//
// The program name (argv[0]) is parsed differently: everything up to the next quote when it
// starts with a quote, else up to the first space or tab, with no backslash processing. A file
// name cannot contain a quote, so it is quoted when it is empty or has a space or tab.
#include "core.h"

#include <cwctype>

namespace confine {
namespace win {

std::wstring QuoteArg(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) return arg;
  std::wstring out;
  out.reserve(arg.size() + 2);
  out.push_back(L'"');
  size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      out.append(backslashes * 2 + 1, L'\\');  // the ones before, escaped, plus one for the quote
    } else {
      out.append(backslashes, L'\\');  // literal: not followed by a quote
    }
    backslashes = 0;
    out.push_back(c);
  }
  out.append(backslashes * 2, L'\\');  // they now precede the closing quote
  out.push_back(L'"');
  return out;
}

std::wstring QuoteProgramName(const std::wstring& argv0) {
  if (!argv0.empty() && argv0.find_first_of(L" \t") == std::wstring::npos &&
      argv0.find(L'"') == std::wstring::npos)
    return argv0;
  std::wstring out = L"\"";
  for (wchar_t c : argv0)
    if (c != L'"') out.push_back(c);  // cannot be represented; file names have none
  out.push_back(L'"');
  return out;
}

std::wstring BuildCommandLine(const std::vector<std::wstring>& argv) {
  std::wstring line;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i) line.push_back(L' ');
    line += i == 0 ? QuoteProgramName(argv[i]) : QuoteArg(argv[i]);
  }
  return line;
}

bool IsBatchFile(const std::wstring& file) {
  size_t dot = file.find_last_of(L'.');
  size_t sep = file.find_last_of(L"\\/");
  if (dot == std::wstring::npos || (sep != std::wstring::npos && dot < sep)) return false;
  std::wstring ext = file.substr(dot);
  while (!ext.empty() && (ext.back() == L' ' || ext.back() == L'.')) ext.pop_back();  // "x.bat. ."
  for (auto& c : ext) c = static_cast<wchar_t>(towlower(c));
  return ext == L".bat" || ext == L".cmd";
}

}  // namespace win
}  // namespace confine
